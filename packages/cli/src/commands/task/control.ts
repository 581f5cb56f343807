/** `kohakuriver task kill|pause|resume ID`: control a task through the host. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { checkTaskId } from "../../options.js";

export function registerTaskControl(task: Command, runtime: CliRuntime): void {
  task
    .command("kill")
    .summary("kill a task; it ends with status killed")
    .argument("<id>", "task id")
    .action(async (taskId: string, _options: unknown, command: Command) => {
      const client = createClient(command, runtime);
      const response = await client.kill(checkTaskId(taskId));
      runtime.output.line(response.message);
    });

  for (const action of ["pause", "resume"] as const) {
    task
      .command(action)
      .summary(
        action === "pause" ? "pause a running task; it keeps its cores, memory and GPUs" : "resume a paused task",
      )
      .argument("<id>", "task id")
      .action(async (taskId: string, _options: unknown, command: Command) => {
        const client = createClient(command, runtime);
        const response = await client.control(checkTaskId(taskId), action);
        runtime.output.line(response.message);
      });
  }
}
