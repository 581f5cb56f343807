/**
 * Prints what tasks wrote while `task submit --wait` waits for them: the stdout log to the CLI's stdout and
 * the stderr log to the CLI's stderr, as `docker run` does.
 */

import { FINISHED_STATUSES, type HostClient, type TaskResponse } from "@kohakuriver/api";

import type { Output } from "../../output.js";
import { LogReader } from "./log-reader.js";
import { taskNode } from "./format.js";
import type { PollListener, ProgressControl } from "./wait.js";

export interface TaskOutputPrinter {
  /** Passed to waitForTasks as its poll listener. */
  onPoll: PollListener;
  /** Ends an unterminated last line of the output, so that the result lines start on a line of their own. */
  endLines(): void;
}

/**
 * Creates the printer for the submitted tasks. One task's output is streamed while it runs. The output of
 * a batch is printed per task once that task has finished, each under a header naming the task and node,
 * so that the tasks' lines do not interleave.
 */
export function createTaskOutputPrinter(
  client: Pick<HostClient, "readLog">,
  taskIds: string[],
  output: Output,
): TaskOutputPrinter {
  const writer = new OutputWriter(output);
  const printer =
    taskIds.length === 1
      ? new StreamingPrinter(client, taskIds[0] as string, writer)
      : new BatchPrinter(client, writer);
  return { onPoll: (tasks, progress) => printer.print(tasks, progress), endLines: () => writer.endLines() };
}

/** Streams the new part of one task's logs after each poll, from the time the task starts. */
class StreamingPrinter {
  private readonly stdout: LogReader;
  private readonly stderr: LogReader;

  constructor(
    client: Pick<HostClient, "readLog">,
    taskId: string,
    private readonly writer: OutputWriter,
  ) {
    this.stdout = new LogReader(client, taskId, "stdout");
    this.stderr = new LogReader(client, taskId, "stderr");
  }

  async print(tasks: TaskResponse[], progress: ProgressControl): Promise<void> {
    const task = tasks[0];
    if (task === undefined || !hasStarted(task)) return;
    const finished = FINISHED_STATUSES.has(task.status);

    // Each text is written before the next request, because a reader counts its text as returned.
    this.write(await this.stdout.readNew(finished), "stdout", progress);
    this.write(await this.stderr.readNew(finished), "stderr", progress);
  }

  private write(text: string, stream: "stdout" | "stderr", progress: ProgressControl): void {
    if (text === "") return;
    // A spinner redrawn between chunks would erase a partial line, so progress ends with the first output.
    progress.end();
    this.writer.write(text, stream);
  }
}

/** Prints each finished task's whole logs once, under a header line. */
class BatchPrinter {
  private readonly printed = new Set<string>();

  constructor(
    private readonly client: Pick<HostClient, "readLog">,
    private readonly writer: OutputWriter,
  ) {}

  async print(tasks: TaskResponse[], progress: ProgressControl): Promise<void> {
    for (const task of tasks) {
      if (!FINISHED_STATUSES.has(task.status) || this.printed.has(task.task_id)) continue;
      const stdout = await new LogReader(this.client, task.task_id, "stdout").readNew(true);
      const stderr = await new LogReader(this.client, task.task_id, "stderr").readNew(true);

      progress.pause();
      const header = batchHeader(task);
      this.writer.write(`${this.writer.output.colors.bold(header)}\n`, "stdout");
      this.writer.write(stdout, "stdout");
      if (stderr !== "") {
        this.writer.write(`${this.writer.output.errorColors.bold(batchHeader(task, "stderr"))}\n`, "stderr");
        this.writer.write(stderr, "stderr");
      }
      this.writer.endLines();
      this.printed.add(task.task_id);
    }
  }
}

/** `==> task 123 on node1 <==`, the way tail heads the output of each file. */
export function batchHeader(
  task: Pick<TaskResponse, "task_id" | "assigned_node" | "target_node">,
  stream?: "stderr",
): string {
  const node = taskNode(task);
  const onNode = node === "-" ? "" : ` on ${node}`;
  const streamLabel = stream === undefined ? "" : `, ${stream}`;
  return `==> task ${task.task_id}${onNode}${streamLabel} <==`;
}

function hasStarted(task: TaskResponse): boolean {
  return task.started_at !== null || FINISHED_STATUSES.has(task.status);
}

/** Writes task output to the CLI's streams and remembers whether each ends inside a line. */
class OutputWriter {
  private stdoutOpen = false;
  private stderrOpen = false;

  constructor(readonly output: Output) {}

  write(text: string, stream: "stdout" | "stderr"): void {
    if (text === "") return;
    if (stream === "stdout") {
      this.output.raw(text);
      this.stdoutOpen = !text.endsWith("\n");
    } else {
      this.output.rawError(text);
      this.stderrOpen = !text.endsWith("\n");
    }
  }

  endLines(): void {
    if (this.stdoutOpen) this.output.raw("\n");
    if (this.stderrOpen) this.output.rawError("\n");
    this.stdoutOpen = false;
    this.stderrOpen = false;
  }
}
