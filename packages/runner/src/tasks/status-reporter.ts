/**
 * Delivers task status reports to the host and retries until the host acknowledges them. Reports live in
 * the runner's state file, so they survive a runner restart. A final report's acknowledgement removes the
 * task from the state.
 */

import type { TaskStatusUpdate } from "@kohakuriver/api";
import { backoffDelayMs, clusterRequest, describeNetworkError, sleep, type Logger } from "@kohakuriver/common";

import { finishedKey, type RunnerState, type TaskEntry } from "../state/runner-state.js";

export interface StatusReporterOptions {
  state: RunnerState;
  hostUrl: string;
  clusterToken: string;
  logger: Logger;
  /** Called when a task's final status was delivered and the task left the state. */
  onDelivered?: (taskId: string) => void;
}

/** Minimum milliseconds between two progress messages of one task. */
const PROGRESS_INTERVAL_MS = 1000;

export class StatusReporter {
  private wake: (() => void) | null = null;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private failures = 0;
  /** The latest unsent progress message per task. */
  private readonly progressMessages = new Map<string, string>();

  constructor(private readonly options: StatusReporterOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Sends a progress message (an image being loaded or pulled) for a task that has not started yet. The
   * host shows it as the task's status message. Best effort and rate-limited: a lost message is not resent,
   * and a newer one replaces an unsent older one.
   */
  progress(taskId: string, message: string): void {
    const pending = this.progressMessages.get(taskId);
    this.progressMessages.set(taskId, message);
    if (pending !== undefined) return;
    void this.sendProgress(taskId);
  }

  private async sendProgress(taskId: string): Promise<void> {
    const { logger } = this.options;
    while (this.progressMessages.has(taskId) && !this.abort.signal.aborted) {
      const message = this.progressMessages.get(taskId) as string;
      try {
        await clusterRequest(
          "POST",
          `${this.options.hostUrl}/api/update`,
          { task_id: taskId, status: "assigning", message },
          { token: this.options.clusterToken, timeoutMs: 5_000 },
        );
      } catch (error) {
        logger.debug({ taskId, reason: describeNetworkError(error) }, "progress message not delivered");
      }
      await sleep(PROGRESS_INTERVAL_MS, this.abort.signal);
      if (this.progressMessages.get(taskId) === message) this.progressMessages.delete(taskId);
    }
  }

  /** Asks the loop to look for reports now. */
  kick(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const pending = this.options.state.list().filter(needsReport);
      if (pending.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }

      let delivered = true;
      for (const entry of pending) {
        if (this.abort.signal.aborted) return;
        delivered = (await this.deliver(entry)) && delivered;
      }
      if (!delivered) {
        this.failures += 1;
        await sleep(backoffDelayMs(this.failures - 1, 500, 15_000), this.abort.signal);
      } else {
        this.failures = 0;
      }
    }
  }

  private async deliver(entry: TaskEntry): Promise<boolean> {
    const { state, logger } = this.options;
    const report: TaskStatusUpdate & { task_id: string } = entry.final_report ?? {
      task_id: entry.task_id,
      status: "running",
      started_at: entry.started_at,
      ...(entry.ssh_port !== undefined && entry.ssh_port !== null ? { ssh_port: entry.ssh_port } : {}),
      ...(entry.generation !== undefined ? { generation: entry.generation } : {}),
    };

    try {
      const response = await clusterRequest("POST", `${this.options.hostUrl}/api/update`, report, {
        token: this.options.clusterToken,
        timeoutMs: 15_000,
      });
      if (response.status === 401) {
        logger.error({ taskId: entry.task_id }, "host rejected the cluster token; check CLUSTER_TOKEN");
        return false;
      }
      if (response.status >= 500) {
        logger.warn(
          { taskId: entry.task_id, status: response.status },
          "host failed to store a status report; will retry",
        );
        return false;
      }
      // 2xx (applied or ignored) and 4xx (the host cannot use it) both end the report: retrying would not help.
      if (response.status >= 400) {
        logger.warn(
          { taskId: entry.task_id, status: response.status, body: response.body },
          "host rejected a status report",
        );
      }
    } catch (error) {
      logger.warn(
        { taskId: entry.task_id, reason: describeNetworkError(error) },
        "cannot reach the host; will retry the status report",
      );
      return false;
    }

    if (entry.final_report !== null) {
      // Not awaited: if this write is lost in a crash, the report is sent again and the host ignores it.
      void state.finish(entry.task_id, finishedKey(entry.task_id, entry.generation));
      logger.debug({ taskId: entry.task_id, status: entry.final_report.status }, "final status delivered");
      this.options.onDelivered?.(entry.task_id);
    } else {
      state.update(entry.task_id, { running_reported: true });
    }
    return true;
  }
}

function needsReport(entry: TaskEntry): boolean {
  return entry.final_report !== null || (entry.phase === "started" && !entry.running_reported && entry.ready !== false);
}
