/**
 * The host's VPS operations. A VPS is a task row with `task_type = vps` that goes through the same queue,
 * ledger and durable dispatch as command tasks. What differs is its SSH setup, its stop (with a snapshot
 * on the runner) and its restart, which re-creates the container from the newest snapshot on the same node.
 */

import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  UnavailableError,
  parseTarget,
  type ParsedVpsCreate,
  type Target,
  type TaskStatus,
  type VpsCreateResponse,
} from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import ssh2 from "ssh2";

import type { HostConfig } from "../config.js";
import { RunnerUnreachableError, responseDetail, type RunnerClient } from "../dispatch/runner-client.js";
import type { ResourceLedger } from "../scheduler/ledger.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { SnowflakeGenerator } from "../scheduler/snowflake.js";
import type { Store, TaskRecord } from "../store/types.js";
import { MIN_MEMORY_BYTES, checkCanEverFit, resolveImage, validateMounts } from "../tasks/submission.js";

export interface VpsServiceOptions {
  config: HostConfig;
  store: Store;
  ledger: ResourceLedger;
  scheduler: Scheduler;
  runners: RunnerClient;
  ids: SnowflakeGenerator;
  logger: Logger;
}

/** Statuses of a VPS that still holds, or waits for, a container. */
export const ACTIVE_VPS_STATUSES: readonly TaskStatus[] = ["pending", "assigning", "running", "paused", "lost"];
const RESTARTABLE: readonly TaskStatus[] = ["running", "paused", "lost", "stopped", "failed", "killed"];

/** Stopping includes committing a snapshot of the whole file system, which can take minutes for a big VPS. */
const STOP_TIMEOUT_MS = 300_000;

export interface ProxiedResponse {
  status: number;
  body: unknown;
}

export class VpsService {
  /** VPS sessions with a stop or restart in progress; a second one is refused until it is done. */
  private readonly busy = new Set<string>();

  constructor(private readonly options: VpsServiceOptions) {}

  /** Validates and stores a VPS (generating its key pair when asked), then queues it. */
  async create(body: ParsedVpsCreate, ownerId: number | null): Promise<VpsCreateResponse> {
    const { store, scheduler, ledger, config, ids, logger } = this.options;
    if (body.vps_backend !== "docker") {
      throw new InvalidInputError(
        "vps_backend: only 'docker' is supported by this host; QEMU virtual machines are not available yet",
        "vps_backend",
      );
    }
    const memory = body.required_memory_bytes;
    if (memory !== null && memory > 0 && memory < MIN_MEMORY_BYTES) {
      throw new InvalidInputError(
        `required_memory_bytes: ${memory} bytes is below Docker's minimum memory limit of 6 MiB; ask for 7M or more, or 0 for no limit`,
        "required_memory_bytes",
      );
    }
    const image = resolveImage(body, config);
    const mounts = validateMounts(body.additional_mounts ?? config.ADDITIONAL_MOUNTS);
    const target: Target | null =
      body.target_hostname === null ? null : parseTarget(body.target_hostname, "target_hostname");
    const gpuIds = [...new Set([...(body.required_gpus ?? []), ...(target?.gpuIds ?? [])])];
    if (gpuIds.length > 0 && target === null) {
      throw new InvalidInputError(
        "required_gpus: GPU indices need a target node; set target_hostname as well",
        "required_gpus",
      );
    }
    if (body.target_numa_node_id !== null && target === null) {
      throw new InvalidInputError(
        "target_numa_node_id: a NUMA node needs a target node; set target_hostname as well",
        "target_numa_node_id",
      );
    }
    const numaNodeId = body.target_numa_node_id ?? target?.numaNodeId ?? null;
    checkCanEverFit(
      target,
      { cores: body.required_cores, memoryBytes: memory, gpuCount: 0, gpuIds, numaNodeId },
      ledger,
      "target_hostname",
    );

    let publicKey = body.ssh_public_key;
    let privateKey: string | undefined;
    const taskId = ids.next();
    if (body.ssh_key_mode === "generate") {
      const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment: `kohakuriver-vps-${taskId}` });
      publicKey = pair.public.trim();
      privateKey = pair.private;
    }

    const record: TaskRecord = {
      task_id: taskId,
      task_type: "vps",
      batch_id: null,
      name: body.name,
      command: "vps",
      arguments: [],
      shell: false,
      env_vars: {},
      required_cores: body.required_cores,
      required_gpus: gpuIds,
      required_gpu_count: 0,
      required_memory_bytes: memory,
      target_node: target?.hostname ?? null,
      target_numa_node_id: numaNodeId,
      owner_id: ownerId,
      approval_status: null,
      approved_by_id: null,
      approved_at: null,
      rejection_reason: null,
      status: "pending",
      assigned_node: null,
      assignment_suspicion_count: 0,
      container_name: image.environment,
      registry_image: image.registryImage,
      docker_image_name: image.tag,
      docker_privileged: body.privileged ?? false,
      docker_mount_dirs: mounts,
      ssh_port: null,
      vps_backend: "docker",
      vm_image: null,
      vm_disk_size: null,
      vm_ip: null,
      stdout_path: "",
      stderr_path: "",
      exit_code: null,
      error_message: null,
      submitted_at: new Date().toISOString(),
      started_at: null,
      completed_at: null,
      dispatch_confirmed: false,
      ssh_key_mode: body.ssh_key_mode,
      ssh_public_key: publicKey,
      generation: 0,
      vps_restore_snapshot: null,
    };
    await store.insertTasks([record]);
    scheduler.enqueue([record]);
    logger.info({ taskId, sshKeyMode: body.ssh_key_mode, target: record.target_node }, "VPS created");

    const stored = (await store.getTask(taskId)) ?? record;
    const node = stored.assigned_node === null ? undefined : ledger.getNode(stored.assigned_node);
    return {
      message:
        stored.status === "pending"
          ? `VPS ${taskId} created; it starts as soon as a node has room for it.`
          : `VPS ${taskId} is being created.`,
      task_id: taskId,
      vps_backend: "docker",
      ssh_key_mode: body.ssh_key_mode,
      ssh_port: null,
      status: stored.status,
      assigned_node: node === undefined ? null : { hostname: node.capacity.hostname, url: node.capacity.url },
      ...(privateKey === undefined ? {} : { ssh_private_key: privateKey, ssh_public_key: publicKey ?? "" }),
    };
  }

  async get(taskId: string): Promise<TaskRecord> {
    const task = await this.options.store.getTask(taskId);
    if (task === undefined || task.task_type !== "vps") throw new NotFoundError(`VPS ${taskId} not found`);
    return task;
  }

  async list(activeOnly: boolean): Promise<TaskRecord[]> {
    return this.options.store.listTasks({
      taskType: "vps",
      order: "newest",
      limit: 10_000,
      ...(activeOnly ? { statuses: ACTIVE_VPS_STATUSES } : {}),
    });
  }

  /**
   * Stops a VPS: the row becomes `stopped` at once and frees its resources, then the runner commits a
   * snapshot (AUTO_SNAPSHOT_ON_STOP) and removes the container. Returns a sentence on what happened.
   */
  async stop(taskId: string): Promise<string> {
    return this.exclusively(taskId, () => this.stopNow(taskId));
  }

  private async stopNow(taskId: string): Promise<string> {
    const { store, scheduler, ledger, logger } = this.options;
    const task = await this.get(taskId);
    if (!ACTIVE_VPS_STATUSES.includes(task.status)) {
      throw new ConflictError(`VPS ${taskId} is already ${task.status}; only an active VPS can be stopped`);
    }
    const applied = await store.transitionTask({
      taskId,
      to: "stopped",
      from: [task.status],
      fields: { error_message: "Stopped by user.", completed_at: new Date().toISOString(), ssh_port: null },
    });
    if (!applied) throw new ConflictError(`VPS ${taskId} changed status while it was being stopped; try again`);
    scheduler.remove(taskId);
    ledger.release(taskId);
    scheduler.kick();
    logger.info({ taskId, previousStatus: task.status }, "VPS stopped");

    if (task.status === "pending" || task.assigned_node === null) return `VPS ${taskId} stopped before it started.`;
    const problem = await this.stopOnRunner(task.assigned_node, taskId, null);
    return problem === null
      ? `VPS ${taskId} stopped.`
      : `VPS ${taskId} stopped; ${problem} Its node removes the container when it is back.`;
  }

  /**
   * Restarts a VPS as a new container on the same node, from its newest snapshot (or from `snapshot`),
   * keeping its SSH key mode and key. A running VPS is stopped with a snapshot first.
   */
  async restart(taskId: string, snapshot: number | null): Promise<string> {
    return this.exclusively(taskId, () => this.restartNow(taskId, snapshot));
  }

  private async restartNow(taskId: string, snapshot: number | null): Promise<string> {
    const { store, scheduler, ledger, logger } = this.options;
    const task = await this.get(taskId);
    if (!RESTARTABLE.includes(task.status)) {
      throw new ConflictError(
        `VPS ${taskId} is ${task.status}; only a running, paused, lost, stopped, failed or killed VPS can be restarted`,
      );
    }
    const node = task.assigned_node === null ? undefined : ledger.getNode(task.assigned_node);
    if (task.assigned_node !== null && (node === undefined || !node.schedulable)) {
      throw new UnavailableError(
        `node ${task.assigned_node} of VPS ${taskId} is offline, and its snapshots are there; restart when it is back`,
      );
    }

    let snapshotCount: number | null = null;
    if (task.assigned_node !== null) {
      snapshotCount = await this.checkSnapshot(task.assigned_node, taskId, snapshot);
    }

    if (task.assigned_node !== null && ["running", "paused", "lost"].includes(task.status)) {
      const problem = await this.stopOnRunner(task.assigned_node, taskId, true, snapshot);
      if (problem !== null) throw new UnavailableError(`cannot stop VPS ${taskId} before the restart: ${problem}`);
    }

    const applied = await store.transitionTask({
      taskId,
      to: "pending",
      // The runner's own report of the stop above may have landed first.
      from: [...new Set<TaskStatus>([task.status, "stopped", "killed", "failed"])],
      fields: {
        generation: task.generation + 1,
        vps_restore_snapshot: snapshot,
        // Snapshots live on the node's own engine, so the new container goes where the old one ran.
        target_node: task.assigned_node ?? task.target_node,
        assigned_node: null,
        dispatch_confirmed: false,
        ssh_port: null,
        exit_code: null,
        error_message: null,
        started_at: null,
        completed_at: null,
      },
    });
    if (!applied) throw new ConflictError(`VPS ${taskId} changed status while it was being restarted; try again`);
    ledger.release(taskId);
    const queued = await store.getTask(taskId);
    if (queued !== undefined) scheduler.enqueue([queued]);
    logger.info({ taskId, generation: task.generation + 1, snapshot }, "VPS restarting");
    if (snapshot !== null) return `VPS ${taskId} is restarting from snapshot ${snapshot}.`;
    const stoppedNow = ["running", "paused", "lost"].includes(task.status);
    return snapshotCount === 0 && !stoppedNow
      ? `VPS ${taskId} is restarting from its image; it has no snapshots.`
      : `VPS ${taskId} is restarting from its newest snapshot.`;
  }

  /**
   * Asks the VPS's node for its snapshots and returns how many there are, so that a restart from a
   * snapshot that does not exist is rejected before the VPS is stopped. Returns null when the node does not
   * respond; the restart then goes ahead and the node reports a missing snapshot itself.
   */
  private async checkSnapshot(hostname: string, taskId: string, snapshot: number | null): Promise<number | null> {
    const node = this.options.ledger.getNode(hostname);
    if (node === undefined) return null;
    let response;
    try {
      response = await this.options.runners.call(
        { hostname, url: node.capacity.url },
        "GET",
        `/api/vps/snapshots/${taskId}`,
        undefined,
        30_000,
      );
    } catch (error) {
      if (error instanceof RunnerUnreachableError) return null;
      throw error;
    }
    if (response.status !== 200) return null;
    const timestamps = ((response.body as { snapshots?: Array<{ timestamp: number }> }).snapshots ?? []).map(
      (item) => item.timestamp,
    );
    if (snapshot !== null && !timestamps.includes(snapshot)) {
      throw new NotFoundError(
        `snapshot ${snapshot} of VPS ${taskId} not found on node ${hostname}; list them with 'kohakuriver vps snapshot list ${taskId}'`,
      );
    }
    return timestamps.length;
  }

  /** Runs one stop or restart of a VPS at a time; another one meanwhile gets a 409. */
  private async exclusively<T>(taskId: string, operation: () => Promise<T>): Promise<T> {
    if (this.busy.has(taskId)) {
      throw new ConflictError(`VPS ${taskId} is being stopped or restarted; try again when that is done`);
    }
    this.busy.add(taskId);
    try {
      return await operation();
    } finally {
      this.busy.delete(taskId);
    }
  }

  /**
   * Sends a snapshot request to the VPS's node and returns the runner's status and body. The node need not
   * be online in the host's view; an unreachable runner is a 502.
   */
  async proxySnapshots(
    taskId: string,
    method: "GET" | "POST" | "DELETE",
    path: string,
    timeoutMs: number,
  ): Promise<ProxiedResponse> {
    const task = await this.get(taskId);
    if (method === "POST" && task.status !== "running") {
      throw new ConflictError(`VPS ${taskId} is ${task.status}; snapshots are taken of a running VPS`);
    }
    if (task.assigned_node === null) {
      throw new ConflictError(`VPS ${taskId} has never run on a node, so it has no snapshots`);
    }
    const node = await this.options.store.getNode(task.assigned_node);
    if (node === undefined) throw new NotFoundError(`node ${task.assigned_node} of VPS ${taskId} is not registered`);
    try {
      const response = await this.options.runners.call(
        { hostname: node.hostname, url: node.url },
        method,
        path,
        method === "GET" ? undefined : {},
        timeoutMs,
      );
      return { status: response.status, body: response.body };
    } catch (error) {
      if (error instanceof RunnerUnreachableError) {
        return {
          status: 502,
          body: { detail: `${error.message}; try again when the node is back`, code: "bad_gateway" },
        };
      }
      throw error;
    }
  }

  /** Asks the runner to stop the VPS; returns null on success, else a sentence saying why it did not happen. */
  private async stopOnRunner(
    hostname: string,
    taskId: string,
    snapshot: boolean | null,
    keep: number | null = null,
  ): Promise<string | null> {
    const node = this.options.ledger.getNode(hostname);
    if (node === undefined || !node.schedulable) return `node ${hostname} is offline.`;
    try {
      const response = await this.options.runners.call(
        { hostname, url: node.capacity.url },
        "POST",
        `/api/vps/stop/${taskId}`,
        { snapshot, keep },
        STOP_TIMEOUT_MS,
      );
      // 404: the runner no longer has it, which is what a stop wants.
      if ((response.status >= 200 && response.status < 300) || response.status === 404) return null;
      return `runner ${hostname} answered: ${responseDetail(response)}.`;
    } catch (error) {
      if (error instanceof RunnerUnreachableError) return `${error.message}.`;
      throw error;
    }
  }
}
