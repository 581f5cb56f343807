/** `kohakuriver task logs ID`: print a task's stdout or stderr, optionally following it until the task ends. */

import { FINISHED_STATUSES, type HostClient } from "@kohakuriver/api";
import { sleep } from "@kohakuriver/common";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { runUntilInterrupted } from "../../interrupt.js";
import type { Output } from "../../output.js";
import { checkTaskId, parseInteger } from "../../options.js";
import { LogReader } from "./log-reader.js";

interface LogsOptions {
  stderr?: boolean;
  follow?: boolean;
  lines?: string;
}

const FOLLOW_POLL_MS = 1_000;

export function registerTaskLogs(task: Command, runtime: CliRuntime): void {
  task
    .command("logs")
    .summary("print a task's output (stdout, or stderr with -e)")
    .argument("<id>", "task id")
    .option("-e, --stderr", "print stderr instead of stdout")
    .option("-f, --follow", "keep printing new output every second until the task finishes")
    .option("-n, --lines <n>", "print only the last N lines, as tail -n does (default: the whole log)")
    .action(async (taskId: string, options: LogsOptions, command: Command) => {
      checkTaskId(taskId);
      const stream = options.stderr === true ? "stderr" : "stdout";
      const lines = options.lines === undefined ? undefined : parseInteger(options.lines, "--lines", 1, "lines");
      const client = createClient(command, runtime);

      if (options.follow !== true) {
        // Read to the end of the log, over several responses when it is larger than one (16 MiB).
        runtime.output.raw(await new LogReader(client, taskId, stream).readNew(true, lines));
        return;
      }
      await runUntilInterrupted(runtime.io, (signal) =>
        followLog(client, taskId, stream, lines, runtime.output, signal),
      );
    });
}

/**
 * Prints the log, then every second prints what was appended since, and stops once the task has
 * finished and its last output is printed.
 */
async function followLog(
  client: HostClient,
  taskId: string,
  stream: "stdout" | "stderr",
  lines: number | undefined,
  output: Output,
  signal: AbortSignal,
): Promise<void> {
  const reader = new LogReader(client, taskId, stream);
  let first = true;

  while (!signal.aborted) {
    // Read the status before the log: once a finished status is seen, the log fetched after it is complete.
    const finished = FINISHED_STATUSES.has((await client.getTask(taskId)).status);
    output.raw(await reader.readNew(finished, first ? lines : undefined));
    first = false;

    if (finished) return;
    await sleep(FOLLOW_POLL_MS, signal);
  }
}
