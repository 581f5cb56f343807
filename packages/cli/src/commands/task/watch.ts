/** `kohakuriver task watch ID`: the status view of one task, refreshed every second until it finishes. */

import { FINISHED_STATUSES } from "@kohakuriver/api";
import { sleep } from "@kohakuriver/common";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { runUntilInterrupted } from "../../interrupt.js";
import { checkTaskId } from "../../options.js";
import { taskDetails } from "./format.js";

const REFRESH_MS = 1_000;

export function registerTaskWatch(task: Command, runtime: CliRuntime): void {
  task
    .command("watch")
    .summary("show a task's status, refreshed every second until it finishes")
    .argument("<id>", "task id")
    .action(async (taskId: string, _options: unknown, command: Command) => {
      const { output } = runtime;
      checkTaskId(taskId);
      const client = createClient(command, runtime);

      await runUntilInterrupted(runtime.io, async (signal) => {
        let previous = "";
        while (!signal.aborted) {
          const item = await client.getTask(taskId);
          const finished = FINISHED_STATUSES.has(item.status);

          // On a terminal the view is redrawn every second, because the duration changes. Elsewhere a new view
          // is appended only when the status does, so a log file gets one block per change.
          if (output.stdout.isTTY === true || item.status !== previous) {
            output.redraw(output.formatDetails(taskDetails(item, output.colors)));
          }
          previous = item.status;

          if (finished) return;
          await sleep(REFRESH_MS, signal);
        }
      });
    });
}
