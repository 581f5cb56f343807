/** `kohakuriver task status ID`: the detail view of one task. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { checkTaskId } from "../../options.js";
import { taskDetails } from "./format.js";

export function registerTaskStatus(task: Command, runtime: CliRuntime): void {
  task
    .command("status")
    .summary("show one task: status, node, command, resources, exit code and times")
    .argument("<id>", "task id")
    .option("--json", "print the API's task object as JSON")
    .action(async (taskId: string, options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const client = createClient(command, runtime);
      const item = await client.getTask(checkTaskId(taskId));

      if (options.json === true) {
        output.json(item);
        return;
      }
      output.details(taskDetails(item, output.colors));
    });
}
