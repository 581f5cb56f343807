/** `kohakuriver task list`: the newest command tasks, optionally filtered by status and node. */

import { formatBytes, type TaskResponse } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import type { Colors } from "../../output.js";
import { parseInteger, parseTaskStatus } from "../../options.js";
import { colorStatus, formatCommand, formatCores, formatGpus, formatTime, taskNode } from "./format.js";

interface ListOptions {
  status?: string;
  node?: string;
  limit?: string;
  compact?: boolean;
  json?: boolean;
}

/** Maximum command width in the table. `task status ID` shows the whole command. */
const COMMAND_WIDTH = 60;

export function registerTaskList(task: Command, runtime: CliRuntime): void {
  task
    .command("list")
    .summary("list command tasks, newest first")
    .option("-s, --status <status>", "only tasks with this status, e.g. running, failed")
    .option("-n, --node <hostname>", "only tasks assigned to this node, named as in 'kohakuriver node list'")
    .option("-l, --limit <n>", "maximum number of tasks to show (default: 50)")
    .option("-c, --compact", "show only id, status, node and command")
    .option("--json", "print the API's task objects as JSON")
    .action(async (options: ListOptions, command: Command) => {
      const { output } = runtime;
      const limit = parseInteger(options.limit ?? "50", "--limit", 1, "tasks");
      const status = options.status === undefined ? undefined : parseTaskStatus(options.status, "--status");

      const client = createClient(command, runtime);
      const tasks = await client.listTasks({ status, node: options.node, limit });

      if (options.json === true) {
        output.json(tasks);
        return;
      }
      if (tasks.length === 0) {
        output.note(emptyListNote(status, options.node));
        return;
      }
      if (options.compact === true) {
        output.table(
          ["ID", "STATUS", "NODE", "COMMAND"],
          tasks.map((item) => [
            item.task_id,
            colorStatus(item.status, output.colors),
            taskNode(item),
            shortCommand(item),
          ]),
        );
        return;
      }
      output.table(
        ["ID", "NAME", "STATUS", "NODE", "CORES", "MEMORY", "GPUS", "EXIT", "SUBMITTED", "COMMAND"],
        tasks.map((item) => fullRow(item, output.colors)),
      );
    });
}

/** Says why the list is empty: the filter matched nothing, or there are no tasks at all. */
export function emptyListNote(status: string | undefined, node: string | undefined): string {
  const filters = [];
  if (status !== undefined) filters.push(`status ${status}`);
  if (node !== undefined) filters.push(`node ${node}`);
  if (filters.length === 0) return "no tasks yet; submit one with 'kohakuriver task submit -- CMD ARGS...'";
  return `no task matches the filter (${filters.join(", ")}); list all tasks with 'kohakuriver task list'`;
}

function fullRow(task: TaskResponse, colors: Colors): string[] {
  return [
    task.task_id,
    task.name ?? "-",
    colorStatus(task.status, colors),
    taskNode(task),
    formatCores(task.required_cores),
    task.required_memory_bytes === null ? "-" : formatBytes(task.required_memory_bytes),
    formatGpus(task),
    task.exit_code === null ? "-" : String(task.exit_code),
    formatTime(task.submitted_at),
    shortCommand(task),
  ];
}

function shortCommand(task: TaskResponse): string {
  const text = formatCommand(task);
  return text.length > COMMAND_WIDTH ? `${text.slice(0, COMMAND_WIDTH - 1)}…` : text;
}
