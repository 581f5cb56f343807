/**
 * Runs command tasks: accepts dispatches (a repeated task id is the same task), creates and starts the
 * container once, captures its output into the log files, waits for it and records the final status.
 *
 * "Started once" is the invariant that makes restarts safe. The entry's phase and Docker's own StartedAt
 * both record whether the container ever ran, and a container that ran is never started again, only watched.
 */

import { join } from "node:path";

import {
  taskContainerName,
  taskLogRelativePath,
  type NumaTopology,
  type ParsedTaskExecuteRequest,
  type TaskStatus,
} from "@kohakuriver/api";
import { Semaphore, type Logger } from "@kohakuriver/common";

import type { RunnerConfig } from "../config.js";
import {
  ContainerExistsError,
  ImageNotFoundError,
  ImagePullError,
  type ContainerState,
  type WorkloadDriver,
} from "../driver/types.js";
import { EnvironmentSyncError, type EnvironmentSync } from "../environments/environment-sync.js";
import { prepareImage } from "../environments/prepare-image.js";
import type { RunnerState, TaskEntry } from "../state/runner-state.js";
import { buildTaskContainerSpec } from "./container-spec.js";
import { describeStartError, finalStatusOf } from "./exit-status.js";
import { readLastLine } from "./last-line.js";
import type { StatusReporter } from "./status-reporter.js";

export interface TaskExecutorOptions {
  config: RunnerConfig;
  nodeName: string;
  driver: WorkloadDriver;
  state: RunnerState;
  reporter: StatusReporter;
  logger: Logger;
  network: string | null;
  numaTopology: NumaTopology | null;
  /** Loads environment tarballs before tasks start; without it tasks use whatever image is present. */
  environments?: EnvironmentSync;
}

/**
 * Containers created and started at the same time. More would only queue inside the Docker Engine while
 * slowing everything else the runner does (heartbeats among them) on a busy node.
 */
const MAX_CONCURRENT_STARTS = 4;

export class TaskExecutor {
  /** Tasks with a supervising loop in this process. */
  private readonly supervised = new Set<string>();
  private readonly starts = new Semaphore(MAX_CONCURRENT_STARTS);

  constructor(private readonly options: TaskExecutorOptions) {}

  /**
   * Records the task on disk, then starts it in the background. Resolves to whether the id was already
   * known, and only once the record is durable, so an acknowledged dispatch is never lost.
   */
  async accept(request: ParsedTaskExecuteRequest): Promise<{ alreadyAccepted: boolean }> {
    const { state, logger } = this.options;
    // A repeat of a task that already ran to the end (its dispatch was resent before the host stored the
    // final status) is acknowledged without running it again.
    if (state.hasFinished(request.task_id)) {
      logger.info({ taskId: request.task_id }, "dispatch of a finished task ignored");
      return { alreadyAccepted: true };
    }
    if (state.get(request.task_id) !== undefined) {
      await state.flushed();
      return { alreadyAccepted: true };
    }

    await state.put({
      task_id: request.task_id,
      container_name: taskContainerName(request.task_id),
      request,
      accepted_at: new Date().toISOString(),
      phase: "accepted",
      started_at: null,
      kill_requested: false,
      running_reported: false,
      final_report: null,
    });
    logger.info({ taskId: request.task_id, image: request.docker_image_name }, "task accepted");
    this.supervise(request.task_id);
    return { alreadyAccepted: false };
  }

  /** Re-adopts every task in the state after a restart: watches running containers, starts never-started ones. */
  resumeAll(): void {
    for (const entry of this.options.state.list()) {
      // VPS entries are resumed by the VPS manager.
      if (entry.final_report === null && entry.task_type !== "vps") this.supervise(entry.task_id);
    }
  }

  /** Adopts containers of this node that carry a task id but have no state entry (their record was lost). */
  async adoptOrphans(): Promise<number> {
    const { driver, state, nodeName, logger } = this.options;
    const containers = await driver.listContainers({
      "kohakuriver.node": nodeName,
      "kohakuriver.task_type": "command",
    });
    let adopted = 0;
    for (const container of containers) {
      const taskId = container.labels["kohakuriver.task_id"];
      if (taskId === undefined || state.get(taskId) !== undefined) continue;
      await state.put({
        task_id: taskId,
        container_name: container.name,
        request: null,
        accepted_at: new Date().toISOString(),
        phase: "started",
        started_at: container.startedAt,
        kill_requested: false,
        running_reported: false,
        final_report: null,
      });
      logger.warn({ taskId, container: container.name }, "adopted a task container that had no state entry");
      this.supervise(taskId);
      adopted += 1;
    }
    return adopted;
  }

  /** Kills a task's container; its final status becomes `killed`. Returns false when the task is unknown here. */
  async kill(taskId: string): Promise<boolean> {
    const { state, driver, logger } = this.options;
    const entry = state.get(taskId);
    if (entry === undefined) {
      await driver.removeContainer(taskContainerName(taskId));
      return false;
    }
    if (entry.final_report !== null) return true;
    await state.update(taskId, { kill_requested: true }).persisted;
    logger.info({ taskId }, "killing task");
    await driver.killContainer(entry.container_name);
    await this.waitUntilFinished(taskId, 10_000);
    return true;
  }

  async pause(taskId: string): Promise<boolean> {
    const entry = this.options.state.get(taskId);
    if (entry === undefined || entry.final_report !== null) return false;
    await this.options.driver.pauseContainer(entry.container_name);
    return true;
  }

  async resume(taskId: string): Promise<boolean> {
    const entry = this.options.state.get(taskId);
    if (entry === undefined || entry.final_report !== null) return false;
    await this.options.driver.unpauseContainer(entry.container_name);
    return true;
  }

  private supervise(taskId: string): void {
    if (this.supervised.has(taskId)) return;
    this.supervised.add(taskId);
    void this.runToCompletion(taskId)
      .catch((error: unknown) =>
        this.recordFailure(taskId, `Task execution failed on the runner: ${(error as Error).message}`),
      )
      .finally(() => this.supervised.delete(taskId));
  }

  private async runToCompletion(taskId: string): Promise<void> {
    const { driver, state, logger } = this.options;
    let entry = state.get(taskId);
    if (entry === undefined) return;

    const existing = await driver.inspectContainer(entry.container_name);
    if (entry.phase === "accepted") {
      if (existing !== null && hasEverStarted(existing)) {
        entry = state.update(taskId, { phase: "started", started_at: existing.startedAt }).entry ?? entry;
      } else {
        const accepted = entry;
        // Outside the start slots: a long load must not hold back tasks whose image is ready.
        if (existing === null && !(await this.prepareTaskImage(accepted))) return;
        const started = await this.starts.run(() => this.startContainer(accepted, existing));
        if (!started) return;
        entry = state.get(taskId) ?? entry;
      }
      this.options.reporter.kick();
    } else if (existing === null) {
      // The state records a start, but the container is gone: someone removed it while the runner was down.
      await this.recordFinal(entry, {
        status: "failed",
        exit_code: null,
        message: "The task's container disappeared from the node.",
      });
      return;
    }

    if (entry.kill_requested) await driver.killContainer(entry.container_name);
    const files = this.logFiles(taskId);
    const [exitCode] = await Promise.all([
      driver.waitContainer(entry.container_name),
      driver.captureLogs(entry.container_name, files),
    ]);
    const final = await driver.inspectContainer(entry.container_name);
    const current = state.get(taskId);
    if (current === undefined) return;

    const ending = finalStatusOf({
      exitCode: final?.exitCode ?? exitCode,
      oomKilled: final?.oomKilled ?? false,
      killRequested: current.kill_requested,
      memoryLimitBytes: current.request?.required_memory_bytes ?? null,
      startError: final?.error ?? "",
      lastStderrLine: await readLastLine(files.stderrPath),
    });
    await this.recordFinal(current, {
      status: ending.status,
      exit_code: final?.exitCode ?? exitCode,
      message: ending.message,
      finishedAt: final?.finishedAt,
    });
    await driver.removeContainer(entry.container_name).catch((error: unknown) => {
      logger.warn({ err: error, taskId }, "cannot remove finished container");
    });
  }

  /**
   * Makes the task's image present: loads the newest tarball of its environment when that is newer, or pulls
   * a registry image that is missing. Progress goes to the task's status message. Returns false after
   * recording the task as failed.
   */
  private async prepareTaskImage(entry: TaskEntry): Promise<boolean> {
    const { driver, environments, reporter } = this.options;
    const request = entry.request;
    if (request === null) return true;
    const progress = (message: string) => reporter.progress(entry.task_id, message);

    try {
      await prepareImage(driver, environments, request, progress);
      return true;
    } catch (error) {
      if (!(error instanceof ImagePullError) && !(error instanceof EnvironmentSyncError)) throw error;
      this.options.logger.warn({ taskId: entry.task_id, err: error }, "task image could not be prepared");
      await this.recordFinal(entry, { status: "failed", exit_code: null, message: capitalize(error.message) });
      return false;
    }
  }

  /** Creates (unless it exists) and starts the container; records the start before reporting it. */
  private async startContainer(entry: TaskEntry, existing: ContainerState | null): Promise<boolean> {
    const { driver, state, logger, config, nodeName, network, numaTopology } = this.options;
    if (entry.request === null) return false;
    if (state.get(entry.task_id)?.kill_requested === true) {
      // Killed while it waited for its turn to start: it never runs.
      await this.recordFinal(entry, { status: "killed", exit_code: null, message: "Killed before it started." });
      if (existing !== null) await driver.removeContainer(entry.container_name);
      return false;
    }

    if (existing === null) {
      try {
        await driver.createContainer(
          buildTaskContainerSpec(entry.request, { config, nodeName, network, numaTopology }),
        );
      } catch (error) {
        if (error instanceof ImageNotFoundError) {
          await this.recordFinal(entry, {
            status: "failed",
            exit_code: null,
            message: `Image ${error.image} not found on node ${nodeName}; build or load it there (scripts/build-base-image.sh builds the default one).`,
          });
          return false;
        }
        if (!(error instanceof ContainerExistsError)) throw error;
      }
    }

    const startedAt = new Date().toISOString();
    try {
      await driver.startContainer(entry.container_name);
    } catch (error) {
      logger.warn({ taskId: entry.task_id, err: error }, "container failed to start");
      state.update(entry.task_id, { phase: "started", started_at: startedAt });
      const failedContainer = await driver.inspectContainer(entry.container_name);
      await this.recordFinal(entry, {
        status: "failed",
        exit_code: failedContainer?.exitCode ?? null,
        message: describeStartError(
          (error as Error).message,
          entry.request.docker_image_name,
          programOf(entry.request),
        ),
      });
      await driver.removeContainer(entry.container_name);
      return false;
    }
    // Docker's own start time is what users compare with; fall back to ours if it cannot be read.
    const started = await driver.inspectContainer(entry.container_name).catch(() => null);
    const dockerStartedAt = started !== null && hasEverStarted(started) ? started.startedAt : null;
    state.update(entry.task_id, { phase: "started", started_at: dockerStartedAt ?? startedAt });
    logger.info({ taskId: entry.task_id, container: entry.container_name }, "task started");
    return true;
  }

  /** Stores the final status durably (the container is removed only after this) and wakes the reporter. */
  private async recordFinal(
    entry: TaskEntry,
    result: {
      status: TaskStatus;
      exit_code: number | null;
      message: string | null;
      finishedAt?: string | null | undefined;
    },
  ): Promise<void> {
    const { persisted } = this.options.state.update(entry.task_id, {
      final_report: {
        task_id: entry.task_id,
        status: result.status,
        exit_code: result.exit_code,
        message: result.message,
        started_at: entry.started_at,
        completed_at: notBefore(result.finishedAt ?? new Date().toISOString(), entry.started_at),
      },
    });
    await persisted;
    this.options.logger.info(
      { taskId: entry.task_id, status: result.status, exitCode: result.exit_code },
      "task finished",
    );
    this.options.reporter.kick();
  }

  private async recordFailure(taskId: string, message: string): Promise<void> {
    const entry = this.options.state.get(taskId);
    this.options.logger.error({ taskId, message }, "task failed on the runner");
    if (entry === undefined || entry.final_report !== null) return;
    await this.recordFinal(entry, { status: "failed", exit_code: null, message });

    // A task reported as failed must not go on running untracked.
    await this.options.driver.removeContainer(entry.container_name).catch((error: unknown) => {
      this.options.logger.warn({ err: error, taskId }, "cannot remove the container of a failed task");
    });
  }

  private logFiles(taskId: string): { stdoutPath: string; stderrPath: string } {
    return {
      stdoutPath: join(this.options.config.SHARED_DIR, taskLogRelativePath(taskId, "stdout")),
      stderrPath: join(this.options.config.SHARED_DIR, taskLogRelativePath(taskId, "stderr")),
    };
  }

  private async waitUntilFinished(taskId: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const entry = this.options.state.get(taskId);
      if (entry === undefined || entry.final_report !== null) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function hasEverStarted(container: ContainerState): boolean {
  return container.startedAt !== null && !container.startedAt.startsWith("0001-");
}

/**
 * Returns `time`, or `earliest` when `time` is earlier. Docker can record a very short container's
 * StartedAt a few milliseconds after its FinishedAt, and a task must not end before it started.
 */
function notBefore(time: string, earliest: string | null): string {
  if (earliest === null) return time;
  return Date.parse(time) < Date.parse(earliest) ? earliest : time;
}

/** Returns the program a task runs: the first word of a shell command, or the command itself in exec form. */
function programOf(request: ParsedTaskExecuteRequest): string {
  return request.shell ? (request.command.trim().split(/\s+/)[0] ?? request.command) : request.command;
}
