/** The `kohakuriver task` command group. */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerTaskApproval } from "./approval.js";
import { registerTaskControl } from "./control.js";
import { registerTaskList } from "./list.js";
import { registerTaskLogs } from "./logs.js";
import { registerTaskStatus } from "./status.js";
import { registerTaskSubmit } from "./submit.js";
import { registerTaskWatch } from "./watch.js";

export function registerTaskCommands(program: Command, runtime: CliRuntime): void {
  const task = program
    .command("task")
    .summary("submit, list, inspect and control command tasks")
    .enablePositionalOptions();

  registerTaskSubmit(task, runtime);
  registerTaskList(task, runtime);
  registerTaskStatus(task, runtime);
  registerTaskLogs(task, runtime);
  registerTaskControl(task, runtime);
  registerTaskWatch(task, runtime);
  registerTaskApproval(task, runtime);
}
