/** Polls tasks until they finish, showing their status while waiting. */

import { FINISHED_STATUSES, UnavailableError, type HostClient, type TaskResponse } from "@kohakuriver/api";
import { sleep } from "@kohakuriver/common";

import { CliError } from "../../errors.js";
import type { Output, Progress } from "../../output.js";
import { plural } from "../../plural.js";

/** Poll every 250 ms for the first 5 s, so short tasks report quickly, then every second. */
const FAST_POLL_MS = 250;
const FAST_POLL_PERIOD_MS = 5_000;
const SLOW_POLL_MS = 1_000;
/** How long the host may stay unreachable (a restart, say) before waiting gives up. */
const UNREACHABLE_LIMIT_MS = 30_000;

/** Lets a poll listener remove the progress display before it writes output. */
export interface ProgressControl {
  /** Removes the progress display until the next poll, so that output starts on a clean line. */
  pause(): void;
  /** Removes the progress display for the rest of the wait. */
  end(): void;
}

/** Receives the latest state of every task, in the order of the task ids, after each poll. */
export type PollListener = (tasks: TaskResponse[], progress: ProgressControl) => Promise<void>;

export interface WaitOptions {
  output: Output;
  /** Show a spinner or progress lines on stderr. */
  showProgress: boolean;
  signal: AbortSignal;
  /**
   * Called after every poll that reached the host, including the one that finds every task finished, so
   * that a listener reading logs after seeing a finished status reads them complete. Failures to reach the
   * host inside the listener are retried like failed polls.
   */
  onPoll?: PollListener;
}

/** Waits until every task has a finished status and returns the tasks in the order of `taskIds`. */
export async function waitForTasks(
  client: HostClient,
  taskIds: string[],
  options: WaitOptions,
): Promise<TaskResponse[]> {
  const started = Date.now();
  const latest = new Map<string, TaskResponse>();
  let progress: Progress | undefined;
  let showProgress = options.showProgress;
  let unreachableSince: number | undefined;
  const progressControl: ProgressControl = {
    pause: () => {
      progress?.stop();
      progress = undefined;
    },
    end: () => {
      progressControl.pause();
      showProgress = false;
    },
  };

  try {
    for (;;) {
      let polled = false;
      try {
        for (const taskId of taskIds) {
          const known = latest.get(taskId);
          if (known !== undefined && FINISHED_STATUSES.has(known.status)) continue;
          latest.set(taskId, await client.getTask(taskId));
        }
        await options.onPoll?.(currentTasks(latest, taskIds), progressControl);
        polled = true;
        unreachableSince = undefined;
      } catch (error) {
        if (!(error instanceof UnavailableError) || error.cause === undefined) throw error;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > UNREACHABLE_LIMIT_MS) throw error;
      }

      const tasks = currentTasks(latest, taskIds);
      if (polled && tasks.length === taskIds.length && tasks.every((task) => FINISHED_STATUSES.has(task.status)))
        return tasks;

      if (showProgress) {
        // Off a terminal each change of the text is a new line, so the clock is left out there.
        const elapsedMs = options.output.interactive ? Date.now() - started : undefined;
        const text = describeProgress(tasks, taskIds, elapsedMs, unreachableSince !== undefined);
        if (progress === undefined) progress = options.output.progress(text);
        else progress.update(text);
      }

      const elapsed = Date.now() - started;
      await sleep(elapsed < FAST_POLL_PERIOD_MS ? FAST_POLL_MS : SLOW_POLL_MS, options.signal);
      if (options.signal.aborted) {
        const subject = taskIds.length === 1 ? `task ${taskIds[0]} keeps` : "the tasks keep";
        const statusCommand = `kohakuriver task ${taskIds.length === 1 ? `status ${taskIds[0]}` : "list"}`;
        throw new CliError(`stopped waiting; ${subject} running on the cluster (see '${statusCommand}')`, 130);
      }
    }
  } finally {
    progress?.stop();
  }
}

function currentTasks(latest: Map<string, TaskResponse>, taskIds: string[]): TaskResponse[] {
  return taskIds.flatMap((taskId) => latest.get(taskId) ?? []);
}

function describeProgress(
  tasks: TaskResponse[],
  taskIds: string[],
  elapsedMs: number | undefined,
  unreachable: boolean,
): string {
  const notes = [];
  if (elapsedMs !== undefined) notes.push(`${Math.floor(elapsedMs / 1000)}s`);
  if (unreachable) notes.push("host unreachable, retrying");
  const suffix = notes.length === 0 ? "" : ` (${notes.join(", ")})`;

  if (taskIds.length === 1) {
    const task = tasks[0];
    if (task === undefined) return `task ${taskIds[0]}: waiting${suffix}`;
    const node = task.assigned_node === null ? "" : ` on ${task.assigned_node}`;
    return `task ${task.task_id}: ${task.status}${node}${suffix}`;
  }

  const counts = new Map<string, number>();
  for (const task of tasks) counts.set(task.status, (counts.get(task.status) ?? 0) + 1);
  const summary = [...counts].map(([status, count]) => `${count} ${status}`).join(", ");
  return `${plural(taskIds.length, "task")}: ${summary || "waiting"}${suffix}`;
}
