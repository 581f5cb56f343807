/**
 * Runs Docker VPS sessions on the runner. It stores each create request durably (a repeated create of the
 * same task id and generation is the same VPS), starts the container once, waits for sshd, watches the
 * container, and stops it with an optional snapshot. Snapshots are images `kohakuriver-snapshot/vps-{id}:{unix_ts}` on
 * this node's engine, so they outlive the container.
 *
 * As with command tasks, a container that was started is never started again by the runner. The engine
 * itself restarts it after a crash or an engine restart (restart policy `unless-stopped`), which keeps the
 * session and its files.
 */

import { connect } from "node:net";

import {
  ConflictError,
  NotFoundError,
  snapshotRepository,
  vpsContainerName,
  type ParsedRunnerVpsCreateRequest,
  type Snapshot,
  type TaskStatus,
} from "@kohakuriver/api";
import { Semaphore, sleep, type Logger } from "@kohakuriver/common";

import type { RunnerConfig } from "../config.js";
import {
  ContainerExistsError,
  ImageNotFoundError,
  ImagePullError,
  type ContainerState,
  type WorkloadDriver,
} from "../driver/types.js";
import { finishedKey, type RunnerState, type TaskEntry } from "../state/runner-state.js";
import { EnvironmentSyncError, type EnvironmentSync } from "../environments/environment-sync.js";
import { prepareImage } from "../environments/prepare-image.js";
import type { StatusReporter } from "../tasks/status-reporter.js";
import { LABEL_GENERATION, SSH_CONTAINER_PORT, buildVpsContainerSpec } from "./vps-container.js";

export interface VpsManagerOptions {
  config: RunnerConfig;
  nodeName: string;
  driver: WorkloadDriver;
  state: RunnerState;
  reporter: StatusReporter;
  logger: Logger;
  network: string | null;
  /** Loads environment tarballs; absent in unit tests that need no environments. */
  environments?: EnvironmentSync;
  /** Seconds to wait for the sshd banner after the container started, package install included. */
  sshReadyTimeoutSeconds?: number;
}

/** Time for sshd to appear, including installing it with the package manager on a slow mirror. */
const DEFAULT_SSH_READY_TIMEOUT_SECONDS = 900;
/** Seconds a stopping VPS gets after SIGTERM before it is killed. */
const STOP_GRACE_SECONDS = 10;
const LOG_TAIL_LINES = 15;

export class VpsManager {
  private readonly supervised = new Set<string>();
  /** One lifecycle operation (create, stop, snapshot) at a time per VPS. */
  private readonly locks = new Map<string, Semaphore>();
  private readonly abort = new AbortController();

  constructor(private readonly options: VpsManagerOptions) {}

  /** Records the VPS on disk, then creates and starts it in the background. */
  async accept(request: ParsedRunnerVpsCreateRequest): Promise<{ alreadyAccepted: boolean }> {
    const { state, logger } = this.options;
    if (state.hasFinished(finishedKey(request.task_id, request.generation))) {
      logger.info({ taskId: request.task_id, generation: request.generation }, "create of a finished VPS ignored");
      return { alreadyAccepted: true };
    }

    return this.withLock(request.task_id, async () => {
      const existing = state.get(request.task_id);
      if (existing !== undefined) {
        if (existing.task_type !== "vps") {
          throw new ConflictError(`task ${request.task_id} runs here as a command task, not a VPS`);
        }
        const existingGeneration = existing.generation ?? 0;
        if (existingGeneration === request.generation) {
          await state.flushed();
          return { alreadyAccepted: true };
        }
        if (existingGeneration > request.generation) {
          throw new ConflictError(
            `VPS ${request.task_id} already runs generation ${existingGeneration} here; generation ${request.generation} is outdated`,
          );
        }
        // The host restarted the VPS: the older container goes before the new one takes its name.
        await this.removeOldGeneration(existing);
      }

      await state.put({
        task_id: request.task_id,
        container_name: vpsContainerName(request.task_id),
        request: null,
        accepted_at: new Date().toISOString(),
        phase: "accepted",
        started_at: null,
        kill_requested: false,
        running_reported: false,
        final_report: null,
        task_type: "vps",
        vps_request: request,
        generation: request.generation,
        ssh_port: null,
        ready: false,
        stop_requested: null,
      });
      logger.info(
        { taskId: request.task_id, generation: request.generation, sshKeyMode: request.ssh_key_mode },
        "VPS accepted",
      );
      this.supervise(request.task_id);
      return { alreadyAccepted: false };
    });
  }

  /** Ends the waiting and watching loops (the containers keep running); used when the runner stops. */
  close(): void {
    this.abort.abort();
  }

  /** Resumes every VPS in the state after a runner restart, without restarting running containers. */
  resumeAll(): void {
    for (const entry of this.options.state.list()) {
      if (entry.task_type !== "vps" || entry.final_report !== null) continue;
      this.supervise(entry.task_id);
      // The engine may have restarted the container on a new port while the runner was down.
      if (entry.ready === true) void this.refreshSshPort(entry.task_id, entry.generation ?? 0);
    }
  }

  /** Adopts VPS containers of this node that have no state entry (their record was lost). */
  async adoptOrphans(): Promise<number> {
    const { driver, state, nodeName, logger } = this.options;
    const containers = await driver.listContainers({ "kohakuriver.node": nodeName, "kohakuriver.task_type": "vps" });
    let adopted = 0;
    for (const container of containers) {
      const taskId = container.labels["kohakuriver.task_id"];
      if (taskId === undefined || state.get(taskId) !== undefined) continue;
      const generation = Number(container.labels[LABEL_GENERATION] ?? "0");
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
        task_type: "vps",
        vps_request: null,
        generation: Number.isInteger(generation) ? generation : 0,
        ssh_port: container.publishedPorts[`${SSH_CONTAINER_PORT}/tcp`] ?? null,
        ready: container.running,
        stop_requested: null,
      });
      logger.warn({ taskId, container: container.name }, "adopted a VPS container that had no state entry");
      this.supervise(taskId);
      adopted += 1;
    }
    return adopted;
  }

  /**
   * Stops a VPS: commits a snapshot first when asked (null follows AUTO_SNAPSHOT_ON_STOP), then removes the
   * container. The retention never deletes the snapshot `keep` (the one a restart is about to restore).
   * Resolves to false when the VPS is not on this node.
   */
  async stop(taskId: string, snapshot: boolean | null, keep: number | null = null): Promise<boolean> {
    return this.end(taskId, "stopped", snapshot ?? this.options.config.AUTO_SNAPSHOT_ON_STOP, keep);
  }

  /** Kills a VPS without a snapshot; its final status becomes `killed`. */
  async kill(taskId: string): Promise<boolean> {
    return this.end(taskId, "killed", false, null);
  }

  /** Lists the snapshots of a VPS on this node, newest first; works while the VPS is stopped. */
  async listSnapshots(taskId: string): Promise<Snapshot[]> {
    const images = await this.options.driver.listRepositoryImages(snapshotRepository(taskId));
    return images
      .filter((image) => /^\d+$/.test(image.tag))
      .map((image) => ({
        tag: image.reference,
        task_id: taskId,
        timestamp: Number(image.tag),
        size: image.sizeBytes,
        created_at: new Date(image.created * 1000).toISOString(),
        message: image.comment,
      }))
      .sort((a, b) => b.timestamp - a.timestamp);
  }

  /** Commits the running VPS as a new snapshot and applies the retention; returns the new tag. */
  async createSnapshot(taskId: string, message: string | null): Promise<string> {
    return this.withLock(taskId, async () => {
      const entry = this.options.state.get(taskId);
      if (entry === undefined || entry.task_type !== "vps" || entry.final_report !== null) {
        throw new NotFoundError(`VPS ${taskId} is not running on node ${this.options.nodeName}`);
      }
      return this.commitSnapshot(entry, message);
    });
  }

  /** Deletes one snapshot by timestamp; NotFoundError when it does not exist. */
  async deleteSnapshot(taskId: string, timestamp: number): Promise<void> {
    const reference = `${snapshotRepository(taskId)}:${timestamp}`;
    if (!(await this.options.driver.imageExists(reference))) {
      throw new NotFoundError(`snapshot ${timestamp} of VPS ${taskId} not found on node ${this.options.nodeName}`);
    }
    await this.removeSnapshotImage(reference);
  }

  /** Deletes every snapshot of a VPS; returns how many were deleted. */
  async deleteAllSnapshots(taskId: string): Promise<number> {
    const snapshots = await this.listSnapshots(taskId);
    for (const snapshot of snapshots) await this.removeSnapshotImage(snapshot.tag);
    return snapshots.length;
  }

  private async end(
    taskId: string,
    status: "stopped" | "killed",
    snapshot: boolean,
    keep: number | null,
  ): Promise<boolean> {
    const { state, driver, logger } = this.options;
    return this.withLock(taskId, async () => {
      const entry = state.get(taskId);
      if (entry === undefined || entry.task_type !== "vps") {
        await driver.removeContainer(vpsContainerName(taskId));
        return false;
      }
      if (entry.final_report !== null) return true;
      await state.update(taskId, { stop_requested: status }).persisted;

      const container = await driver.inspectContainer(entry.container_name);
      if (snapshot && container !== null && hasEverStarted(container)) {
        await this.commitSnapshot(entry, "Auto-snapshot on stop", keep).catch((error: unknown) => {
          logger.warn({ err: error, taskId }, "snapshot before stop failed; stopping anyway");
        });
      }
      await this.stopContainer(entry.container_name);
      await this.recordFinal(entry, {
        status,
        exit_code: null,
        message: status === "stopped" ? "Stopped by user." : "Killed on request.",
      });
      await driver.removeContainer(entry.container_name);
      logger.info({ taskId, status, snapshot }, "VPS ended");
      return true;
    });
  }

  /**
   * Starts the supervising loop of the VPS's current generation. A loop of an older generation may still
   * be winding down; it stops at its next look at the state, because the entry's generation changed.
   */
  private supervise(taskId: string): void {
    const generation = this.options.state.get(taskId)?.generation ?? 0;
    const key = finishedKey(taskId, generation);
    if (this.supervised.has(key)) return;
    this.supervised.add(key);
    void this.runToEnd(taskId, generation)
      .catch((error: unknown) =>
        this.recordFailure(taskId, generation, `VPS failed on the runner: ${(error as Error).message}`),
      )
      .finally(() => this.supervised.delete(key));
  }

  /** Returns the VPS's entry while it still belongs to `generation`. */
  private entryOf(taskId: string, generation: number): TaskEntry | undefined {
    const entry = this.options.state.get(taskId);
    return entry !== undefined && (entry.generation ?? 0) === generation ? entry : undefined;
  }

  private async runToEnd(taskId: string, generation: number): Promise<void> {
    const { driver, state } = this.options;
    const entry = this.entryOf(taskId, generation);
    if (entry === undefined) return;

    if (entry.phase === "accepted") {
      // Under the VPS's lock, so that a stop arriving meanwhile cannot miss a container being created.
      const started = await this.withLock(taskId, async () => {
        const current = this.entryOf(taskId, generation);
        if (current === undefined || current.final_report !== null || (current.stop_requested ?? null) !== null) {
          return false;
        }
        const container = await driver.inspectContainer(current.container_name);
        if (container !== null && hasEverStarted(container)) {
          state.update(taskId, { phase: "started", started_at: container.startedAt });
          return true;
        }
        return this.startContainer(current, container);
      });
      if (!started) return;
    } else if ((await driver.inspectContainer(entry.container_name)) === null) {
      if (entry.stop_requested === null || entry.stop_requested === undefined) {
        await this.recordFinal(entry, {
          status: "failed",
          exit_code: null,
          message: "The VPS container disappeared from the node.",
        });
      }
      return;
    }

    if (state.get(taskId)?.ready !== true && !(await this.waitUntilReady(taskId, generation))) return;
    await this.watch(taskId, generation);
  }

  /** Creates (unless it exists) and starts the container. Returns false when the VPS failed instead. */
  private async startContainer(entry: TaskEntry, existing: ContainerState | null): Promise<boolean> {
    const { driver, state, logger, config, nodeName, network } = this.options;
    const request = entry.vps_request;
    if (request === null || request === undefined) return false;

    if (existing === null) {
      const image = await this.chooseImage(request);
      if (image === null) return false;
      try {
        await driver.createContainer(buildVpsContainerSpec(request, { config, nodeName, network, image }));
      } catch (error) {
        if (error instanceof ImageNotFoundError) {
          await this.recordFinal(entry, {
            status: "failed",
            exit_code: null,
            message: `Image ${error.image} not found on node ${nodeName}; build or load it there.`,
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
      state.update(entry.task_id, { phase: "started", started_at: startedAt });
      await this.recordFinal(entry, {
        status: "failed",
        exit_code: null,
        message: `The VPS container could not start: ${(error as Error).message}`,
      });
      await driver.removeContainer(entry.container_name);
      return false;
    }
    const started = await driver.inspectContainer(entry.container_name).catch(() => null);
    state.update(entry.task_id, {
      phase: "started",
      started_at: started !== null && hasEverStarted(started) ? started.startedAt : startedAt,
      ready: request.ssh_key_mode === "disabled",
      ssh_port: started?.publishedPorts[`${SSH_CONTAINER_PORT}/tcp`] ?? null,
    });
    logger.info({ taskId: entry.task_id, container: entry.container_name }, "VPS container started");
    this.options.reporter.kick();
    return true;
  }

  /**
   * Picks the image: a requested snapshot, else the newest snapshot when AUTO_RESTORE_ON_CREATE is set,
   * else the environment image. Records a failure and returns null when a requested snapshot is missing.
   */
  private async chooseImage(request: ParsedRunnerVpsCreateRequest): Promise<string | null> {
    const { driver, config, nodeName, logger } = this.options;
    const repository = snapshotRepository(request.task_id);
    if (request.restore_snapshot !== null) {
      const reference = `${repository}:${request.restore_snapshot}`;
      if (await driver.imageExists(reference)) return reference;
      const entry = this.options.state.get(request.task_id);
      if (entry !== undefined) {
        await this.recordFinal(entry, {
          status: "failed",
          exit_code: null,
          message: `Snapshot ${request.restore_snapshot} of VPS ${request.task_id} not found on node ${nodeName}; list them with 'kohakuriver vps snapshot list ${request.task_id}'.`,
        });
      }
      return null;
    }
    if (config.AUTO_RESTORE_ON_CREATE) {
      const newest = (await this.listSnapshots(request.task_id))[0];
      if (newest !== undefined) {
        logger.info({ taskId: request.task_id, snapshot: newest.tag }, "restoring VPS from its newest snapshot");
        return newest.tag;
      }
    }

    const progress = (message: string): void => this.options.reporter.progress(request.task_id, message);
    try {
      await prepareImage(driver, this.options.environments, request, progress);
    } catch (error) {
      if (!(error instanceof ImagePullError) && !(error instanceof EnvironmentSyncError)) throw error;
      const entry = this.options.state.get(request.task_id);
      if (entry !== undefined) {
        const message = error.message.charAt(0).toUpperCase() + error.message.slice(1);
        await this.recordFinal(entry, { status: "failed", exit_code: null, message });
      }
      return null;
    }
    return request.docker_image_name;
  }

  /**
   * Waits until sshd sends its banner on the published port. A container that exits or is restarted by
   * the engine meanwhile failed its setup; its last output lines become the failure message.
   */
  private async waitUntilReady(taskId: string, generation: number): Promise<boolean> {
    const { driver, state, logger } = this.options;
    const timeoutSeconds = this.options.sshReadyTimeoutSeconds ?? DEFAULT_SSH_READY_TIMEOUT_SECONDS;
    const deadline = Date.now() + timeoutSeconds * 1000;

    while (Date.now() < deadline) {
      if (this.abort.signal.aborted) return false;
      const entry = this.entryOf(taskId, generation);
      if (entry === undefined || entry.final_report !== null || (entry.stop_requested ?? null) !== null) return false;
      const container = await driver.inspectContainer(entry.container_name);
      if (container === null) {
        await this.recordFinal(entry, {
          status: "failed",
          exit_code: null,
          message: "The VPS container disappeared while sshd was being set up.",
        });
        return false;
      }
      if (!container.running || container.restartCount > 0) {
        await this.failSetup(entry, container);
        return false;
      }
      const port = container.publishedPorts[`${SSH_CONTAINER_PORT}/tcp`];
      if (port !== undefined && (await readsSshBanner("127.0.0.1", port))) {
        state.update(taskId, { ready: true, ssh_port: port });
        logger.info({ taskId, sshPort: port }, "VPS sshd is ready");
        this.options.reporter.kick();
        return true;
      }
      await sleep(500, this.abort.signal);
    }
    if (this.abort.signal.aborted) return false;

    const entry = this.entryOf(taskId, generation);
    if (entry !== undefined && entry.final_report === null) {
      const tail = await driver.readLogTail(entry.container_name, LOG_TAIL_LINES).catch(() => "");
      await this.recordFinal(entry, {
        status: "failed",
        exit_code: null,
        message: `sshd sent no SSH banner within ${timeoutSeconds} s. Last output:\n${tail.trim()}`,
      });
      await this.stopContainer(entry.container_name);
      await driver.removeContainer(entry.container_name);
    }
    return false;
  }

  private async failSetup(entry: TaskEntry, container: ContainerState): Promise<void> {
    const { driver } = this.options;
    const tail = await driver.readLogTail(entry.container_name, LOG_TAIL_LINES).catch(() => "");
    await this.recordFinal(entry, {
      status: "failed",
      exit_code: container.exitCode,
      message: `The VPS setup exited${container.exitCode === null ? "" : ` with code ${container.exitCode}`} before sshd started. Last output:\n${tail.trim()}`,
    });
    await this.stopContainer(entry.container_name);
    await driver.removeContainer(entry.container_name);
  }

  /**
   * Watches a running VPS until it is stopped. The engine restarts a crashed container by itself. Only a
   * container that stays exited (stopped outside KohakuRiver) ends the VPS, after a snapshot when
   * AUTO_SNAPSHOT_ON_STOP is set.
   */
  private async watch(taskId: string, generation: number): Promise<void> {
    const { driver, logger, config } = this.options;
    while (!this.abort.signal.aborted) {
      const entry = this.entryOf(taskId, generation);
      if (entry === undefined || entry.final_report !== null || (entry.stop_requested ?? null) !== null) return;

      await driver.waitContainer(entry.container_name).catch(() => 0);
      // The engine marks the container `restarting` shortly after it exits; give it that moment.
      await sleep(1000, this.abort.signal);
      if (this.abort.signal.aborted) return;
      const current = this.entryOf(taskId, generation);
      if (current === undefined || current.final_report !== null || (current.stop_requested ?? null) !== null) return;
      const container = await driver.inspectContainer(current.container_name);
      if (container !== null && (container.running || container.status === "restarting")) {
        await this.refreshSshPort(taskId, generation);
        continue;
      }

      if (container !== null && config.AUTO_SNAPSHOT_ON_STOP) {
        await this.commitSnapshot(current, "Auto-snapshot after the container stopped").catch((error: unknown) => {
          logger.warn({ err: error, taskId }, "snapshot of a stopped VPS failed");
        });
      }
      await this.recordFinal(current, {
        status: "failed",
        exit_code: container?.exitCode ?? null,
        message: `The VPS container stopped outside KohakuRiver${container?.exitCode === null || container === null ? "" : ` (exit code ${container.exitCode})`}.`,
      });
      await driver.removeContainer(current.container_name);
      return;
    }
  }

  /**
   * Reads the published SSH port again and reports it when it changed: the engine publishes a restarted
   * container (after a crash or an engine restart) on a new port. Waits briefly for the restart to finish.
   */
  private async refreshSshPort(taskId: string, generation: number): Promise<void> {
    const { driver, state, logger } = this.options;
    for (let attempt = 0; attempt < 20 && !this.abort.signal.aborted; attempt += 1) {
      const entry = this.entryOf(taskId, generation);
      if (entry === undefined || entry.final_report !== null) return;
      const container = await driver.inspectContainer(entry.container_name);
      if (container === null) return;
      const port = container.publishedPorts[`${SSH_CONTAINER_PORT}/tcp`];
      if (container.running && (port !== undefined || (entry.vps_request?.ssh_key_mode ?? "") === "disabled")) {
        if (port !== undefined && port !== entry.ssh_port) {
          // A new running report carries the new port to the host.
          state.update(taskId, { ssh_port: port, running_reported: false });
          logger.info(
            { taskId, sshPort: port, previous: entry.ssh_port },
            "VPS restarted by the engine on a new SSH port",
          );
          this.options.reporter.kick();
        }
        return;
      }
      await sleep(500, this.abort.signal);
    }
  }

  private async commitSnapshot(entry: TaskEntry, message: string | null, keep: number | null = null): Promise<string> {
    const { driver, logger, config } = this.options;
    const repository = snapshotRepository(entry.task_id);
    // Tags are whole seconds and must increase. A snapshot taken within the second of the previous one is
    // tagged one second later, because with an older tag the retention could delete it at once.
    const newest = (await this.listSnapshots(entry.task_id))[0]?.timestamp ?? 0;
    const timestamp = Math.max(Math.floor(Date.now() / 1000), newest + 1);

    await driver.commitContainer(
      entry.container_name,
      repository,
      String(timestamp),
      message ?? `VPS ${entry.task_id} snapshot at ${timestamp}`,
    );
    const tag = `${repository}:${timestamp}`;
    logger.info({ taskId: entry.task_id, snapshot: tag }, "VPS snapshot created");

    if (config.MAX_SNAPSHOTS_PER_VPS > 0) {
      const all = await this.listSnapshots(entry.task_id);
      const others = all.filter((snapshot) => snapshot.timestamp !== keep);
      // A protected snapshot counts against the limit, so the newest others fill the rest of it. The new
      // snapshot always stays, so with a limit of 1 and a protected snapshot there are briefly two.
      const room = others.length < all.length ? config.MAX_SNAPSHOTS_PER_VPS - 1 : config.MAX_SNAPSHOTS_PER_VPS;
      const surplus = others.slice(Math.max(1, room));
      for (const old of surplus) {
        await this.removeSnapshotImage(old.tag).catch((error: unknown) => {
          logger.warn({ err: error, snapshot: old.tag }, "cannot delete a snapshot beyond the retention");
        });
      }
    }
    return tag;
  }

  /**
   * Removes a snapshot tag. A snapshot that a container was created from cannot be removed outright, so
   * its tag is removed with force: the container keeps its image, which the engine frees with the container.
   */
  private async removeSnapshotImage(reference: string): Promise<void> {
    await this.options.driver.removeImage(reference);
  }

  /** Sends SIGTERM, waits up to STOP_GRACE_SECONDS for the container to exit, then kills it. */
  private async stopContainer(name: string): Promise<void> {
    const { driver } = this.options;
    const container = await driver.inspectContainer(name);
    if (container === null || !container.running) return;
    if (container.paused) await driver.unpauseContainer(name);
    await driver.killContainer(name, "SIGTERM");
    const deadline = Date.now() + STOP_GRACE_SECONDS * 1000;
    while (Date.now() < deadline) {
      const state = await driver.inspectContainer(name);
      if (state === null || !state.running) return;
      await sleep(200);
    }
    await driver.killContainer(name, "SIGKILL");
  }

  private async removeOldGeneration(existing: TaskEntry): Promise<void> {
    const { state, driver, logger } = this.options;
    if (existing.final_report === null) {
      await state.update(existing.task_id, { stop_requested: "stopped" }).persisted;
      await this.stopContainer(existing.container_name);
    }
    await driver.removeContainer(existing.container_name);
    await state.finish(existing.task_id, finishedKey(existing.task_id, existing.generation));
    logger.info(
      { taskId: existing.task_id, generation: existing.generation ?? 0 },
      "older VPS generation removed for a restart",
    );
  }

  private async recordFinal(
    entry: TaskEntry,
    result: { status: TaskStatus; exit_code: number | null; message: string | null },
  ): Promise<void> {
    const { persisted } = this.options.state.update(entry.task_id, {
      final_report: {
        task_id: entry.task_id,
        status: result.status,
        exit_code: result.exit_code,
        message: result.message,
        started_at: entry.started_at,
        completed_at: new Date().toISOString(),
        generation: entry.generation ?? 0,
      },
    });
    await persisted;
    this.options.logger.info({ taskId: entry.task_id, status: result.status }, "VPS finished");
    this.options.reporter.kick();
  }

  private async recordFailure(taskId: string, generation: number, message: string): Promise<void> {
    const entry = this.entryOf(taskId, generation);
    this.options.logger.error({ taskId, message }, "VPS failed on the runner");
    if (entry === undefined || entry.final_report !== null) return;
    await this.recordFinal(entry, { status: "failed", exit_code: null, message });
    await this.options.driver.removeContainer(entry.container_name).catch((error: unknown) => {
      this.options.logger.warn({ err: error, taskId }, "cannot remove the container of a failed VPS");
    });
  }

  private async withLock<T>(taskId: string, operation: () => Promise<T>): Promise<T> {
    let lock = this.locks.get(taskId);
    if (lock === undefined) {
      lock = new Semaphore(1);
      this.locks.set(taskId, lock);
    }
    return lock.run(operation);
  }
}

function hasEverStarted(container: ContainerState): boolean {
  return container.startedAt !== null && !container.startedAt.startsWith("0001-");
}

/** Connects and resolves true when the peer sends an SSH identification line ("SSH-") within 2 s. */
function readsSshBanner(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = "";
    const finish = (result: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(false), 2000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (received.startsWith("SSH-")) finish(true);
      else if (received.length >= 4) finish(false);
    });
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(false));
  });
}
