/** `kohakuriver task pending|approve|reject`: tasks of `user` accounts that wait for an operator. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { checkTaskId } from "../../options.js";

export function registerTaskApproval(task: Command, runtime: CliRuntime): void {
  task
    .command("pending")
    .summary("list tasks waiting for approval, oldest first (operator)")
    .option("--json", "print the API's task objects as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const tasks = await createClient(command, runtime).listPendingApproval();
      if (options.json === true) {
        runtime.output.json(tasks);
        return;
      }
      if (tasks.length === 0) {
        runtime.output.note("no tasks wait for approval");
        return;
      }
      runtime.output.table(
        ["TASK ID", "OWNER", "SUBMITTED", "COMMAND"],
        tasks.map((item) => [item.task_id, String(item.owner_id ?? "-"), item.submitted_at, item.command.slice(0, 60)]),
      );
    });

  task
    .command("approve")
    .summary("approve a task waiting for approval; it joins the queue (operator)")
    .argument("<id>", "task id")
    .action(async (taskId: string, _options: unknown, command: Command) => {
      const response = await createClient(command, runtime).approve(checkTaskId(taskId));
      runtime.output.line(response.message);
    });

  task
    .command("reject")
    .summary("reject a task waiting for approval (operator)")
    .argument("<id>", "task id")
    .option("-r, --reason <text>", "why, shown to the submitter")
    .action(async (taskId: string, options: { reason?: string }, command: Command) => {
      const response = await createClient(command, runtime).reject(checkTaskId(taskId), options.reason);
      runtime.output.line(response.message);
    });
}
