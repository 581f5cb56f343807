/**
 * Nodes: registration, heartbeats, offline detection and reconciliation of what runners report.
 *
 * Heartbeat metrics live in memory and are written to the store in batches, so heartbeats from many
 * runners cost no store write each. A node becomes schedulable only after its first heartbeat has been
 * reconciled, so tasks that come back from `lost` hold their resources before anything new is placed.
 */

import {
  NotFoundError,
  TERMINAL_STATUSES,
  type GpuInfo,
  type HeartbeatResponse,
  type ParsedHeartbeatRequest,
  type ParsedRegisterRequest,
  type RegisterResponse,
} from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";

import { heartbeatTimeoutMs, type HostConfig } from "../config.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import type { ResourceLedger } from "../scheduler/ledger.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { NodeRecord, Store } from "../store/types.js";
import type { TaskService } from "../tasks/task-service.js";

/** Consecutive heartbeats that must omit a running task before it is declared lost. */
const MISSING_HEARTBEATS_BEFORE_LOST = 3;

interface LiveNode {
  record: NodeRecord;
  lastSeenMs: number;
  dirty: boolean;
  /** Heartbeats in a row that did not list the task, per task id. */
  missing: Map<string, number>;
}

export interface NodeRegistryOptions {
  config: HostConfig;
  store: Store;
  ledger: ResourceLedger;
  scheduler: Scheduler;
  dispatcher: Dispatcher;
  tasks: TaskService;
  logger: Logger;
  now?: () => number;
}

export class NodeRegistry {
  private readonly nodes = new Map<string, LiveNode>();
  private readonly now: () => number;
  private timers: NodeJS.Timeout[] = [];
  private lastCheckMs: number | null = null;

  constructor(private readonly options: NodeRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Loads known nodes; each gets a full timeout from now before it can be declared offline. */
  async load(): Promise<void> {
    for (const record of await this.options.store.listNodes()) {
      this.nodes.set(record.hostname, { record, lastSeenMs: this.now(), dirty: false, missing: new Map() });
      this.options.ledger.upsertNode(capacityOf(record));
    }
  }

  start(): void {
    const { config, logger } = this.options;
    const check = setInterval(() => {
      this.checkOffline().catch((error: unknown) => logger.error({ err: error }, "offline check failed"));
    }, config.CLEANUP_CHECK_INTERVAL_SECONDS * 1000);
    const flush = setInterval(() => {
      this.flushMetrics().catch((error: unknown) => logger.error({ err: error }, "heartbeat flush failed"));
    }, 5000);
    this.timers = [check, flush];
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.flushMetrics();
  }

  get(hostname: string): NodeRecord | undefined {
    return this.nodes.get(hostname)?.record;
  }

  list(): NodeRecord[] {
    return [...this.nodes.values()].map((node) => node.record).sort((a, b) => a.hostname.localeCompare(b.hostname));
  }

  async register(request: ParsedRegisterRequest): Promise<RegisterResponse> {
    const { store, ledger, logger, config } = this.options;
    const existing = this.nodes.get(request.hostname)?.record ?? (await store.getNode(request.hostname));

    const record: NodeRecord = {
      hostname: request.hostname,
      url: request.url,
      total_cores: request.total_cores,
      memory_total_bytes: request.total_ram_bytes ?? existing?.memory_total_bytes ?? null,
      status: "online",
      last_heartbeat: new Date(this.now()).toISOString(),
      cpu_percent: existing?.cpu_percent ?? null,
      memory_percent: existing?.memory_percent ?? null,
      memory_used_bytes: existing?.memory_used_bytes ?? null,
      current_avg_temp: existing?.current_avg_temp ?? null,
      current_max_temp: existing?.current_max_temp ?? null,
      numa_topology: request.numa_topology ?? existing?.numa_topology ?? null,
      gpu_info: (request.gpu_info as GpuInfo[] | null | undefined) ?? existing?.gpu_info ?? [],
      vm_capable: existing?.vm_capable ?? false,
      vfio_gpus: existing?.vfio_gpus ?? [],
      runner_version: request.runner_version ?? existing?.runner_version ?? null,
      registered_at: existing?.registered_at ?? new Date(this.now()).toISOString(),
    };
    const { created } = await store.upsertNode(record);

    const live = this.nodes.get(record.hostname);
    if (live === undefined) {
      this.nodes.set(record.hostname, { record, lastSeenMs: this.now(), dirty: false, missing: new Map() });
    } else {
      live.record = record;
      live.lastSeenMs = this.now();
    }
    ledger.upsertNode(capacityOf(record));
    logger.info({ node: record.hostname, url: record.url, cores: record.total_cores, created }, "node registered");

    return {
      message: created ? `Node ${record.hostname} registered.` : `Node ${record.hostname} registered again.`,
      created,
      overlay: null,
      heartbeat_interval_seconds: config.HEARTBEAT_INTERVAL_SECONDS,
    };
  }

  async heartbeat(hostname: string, request: ParsedHeartbeatRequest): Promise<HeartbeatResponse> {
    const live = this.nodes.get(hostname);
    if (live === undefined) throw new NotFoundError(`Node ${hostname} not registered. Please register first.`);

    live.lastSeenMs = this.now();
    live.dirty = true;
    const record = live.record;
    record.last_heartbeat = new Date(live.lastSeenMs).toISOString();
    record.cpu_percent = request.cpu_percent ?? null;
    record.memory_percent = request.memory_percent ?? null;
    record.memory_used_bytes = request.memory_used_bytes ?? null;
    if (request.memory_total_bytes !== undefined && request.memory_total_bytes !== null) {
      record.memory_total_bytes = request.memory_total_bytes;
    }
    record.current_avg_temp = request.current_avg_temp ?? null;
    record.current_max_temp = request.current_max_temp ?? null;
    if (request.gpu_info !== undefined && request.gpu_info !== null && request.gpu_info.length > 0) {
      record.gpu_info = request.gpu_info as GpuInfo[];
    }
    record.vm_capable = request.vm_capable ?? false;
    if (request.vfio_gpus !== undefined && request.vfio_gpus !== null) record.vfio_gpus = request.vfio_gpus;
    if (request.runner_version !== undefined && request.runner_version !== null)
      record.runner_version = request.runner_version;

    const listed = new Set((request.running_tasks ?? []).map(String));
    const ledgerNode = this.options.ledger.getNode(hostname);
    const returning = ledgerNode === undefined || !ledgerNode.schedulable;
    if (returning) await this.reviveLostTasks(hostname, listed);

    const stopTasks = await this.reconcileListedTasks(live, listed);

    if (returning) {
      if (record.status !== "online") {
        record.status = "online";
        await this.options.store.updateNodes([
          { hostname, fields: { status: "online", last_heartbeat: record.last_heartbeat } },
        ]);
        this.options.logger.info({ node: hostname }, "node back online");
      }
      this.options.ledger.setSchedulable(hostname, true);
      this.options.scheduler.kick();
      this.options.dispatcher.nudge();
    }
    return { message: "Heartbeat received.", stop_tasks: stopTasks };
  }

  /**
   * Declares nodes offline whose last heartbeat is older than the timeout; their tasks become `lost`.
   * When this check itself runs late (the host was stalled and could not process heartbeats), the delay
   * is not counted against the nodes.
   */
  async checkOffline(): Promise<void> {
    const timeoutMs = heartbeatTimeoutMs(this.options.config);
    const now = this.now();
    const expectedGapMs = this.options.config.CLEANUP_CHECK_INTERVAL_SECONDS * 1000;
    const stallMs = this.lastCheckMs === null ? 0 : now - this.lastCheckMs - expectedGapMs;
    this.lastCheckMs = now;
    if (stallMs > timeoutMs / 4) {
      for (const live of this.nodes.values()) live.lastSeenMs += stallMs;
      this.options.logger.warn({ stallMs }, "host was stalled; heartbeat deadlines extended");
    }

    for (const live of this.nodes.values()) {
      if (live.record.status !== "online" || now - live.lastSeenMs <= timeoutMs) continue;
      await this.markOffline(live, Math.round((now - live.lastSeenMs) / 1000));
    }
  }

  private async markOffline(live: LiveNode, silentSeconds: number): Promise<void> {
    const hostname = live.record.hostname;
    live.record.status = "offline";
    live.missing.clear();
    this.options.ledger.setSchedulable(hostname, false);
    await this.options.store.updateNodes([{ hostname, fields: { status: "offline" } }]);

    const reason = `Node ${hostname} went offline: no heartbeat for ${silentSeconds} s.`;
    const lost = await this.options.tasks.markNodeTasksLost(hostname, reason);
    this.options.logger.warn({ node: hostname, silentSeconds, lostTasks: lost }, "node offline");
  }

  /** A node that comes back: its lost tasks that still run return to `running`; never-confirmed ones are sent again. */
  private async reviveLostTasks(hostname: string, listed: ReadonlySet<string>): Promise<void> {
    const { store, ledger, dispatcher, tasks, logger } = this.options;
    const lostTasks = await store.listTasks({ node: hostname, statuses: ["lost"] });

    for (const task of lostTasks) {
      if (listed.has(task.task_id)) {
        const result = await tasks.applyRunnerUpdate({ task_id: task.task_id, status: "running" });
        if (result.applied) logger.info({ taskId: task.task_id, node: hostname }, "lost task running again");
        continue;
      }
      if (task.dispatch_confirmed) continue;

      const applied = await store.transitionTask({
        taskId: task.task_id,
        to: "assigning",
        from: ["lost"],
        fields: { error_message: null, completed_at: null },
      });
      if (!applied) continue;
      ledger.allocate({
        taskId: task.task_id,
        hostname,
        cores: task.required_cores,
        memoryBytes: task.required_memory_bytes ?? 0,
        gpuIds: task.required_gpus,
      });
      dispatcher.enqueue(task.task_id);
      logger.info({ taskId: task.task_id, node: hostname }, "lost task dispatched again");
    }
  }

  /**
   * Compares the runner's list with what the host expects on that node. Tasks the host no longer expects
   * there are returned for the runner to stop; expected tasks missing from several heartbeats in a row
   * become `lost`.
   */
  private async reconcileListedTasks(
    live: LiveNode,
    listed: ReadonlySet<string>,
  ): Promise<HeartbeatResponse["stop_tasks"]> {
    const { store, ledger, tasks, logger } = this.options;
    const hostname = live.record.hostname;
    const expected = ledger.getNode(hostname)?.taskIds ?? new Set<string>();
    const stopTasks: HeartbeatResponse["stop_tasks"] = [];

    for (const taskId of listed) {
      if (expected.has(taskId)) continue;
      const task = await store.getTask(taskId);
      if (task === undefined) {
        stopTasks.push({ task_id: taskId, reason: "the host has no record of this task" });
      } else if (task.assigned_node !== hostname) {
        stopTasks.push({ task_id: taskId, reason: `the task belongs to node ${task.assigned_node ?? "(none)"}` });
      } else if (TERMINAL_STATUSES.has(task.status)) {
        stopTasks.push({ task_id: taskId, reason: `the task is already ${task.status}` });
      }
    }

    for (const taskId of [...expected]) {
      if (listed.has(taskId)) {
        live.missing.delete(taskId);
        continue;
      }
      const misses = (live.missing.get(taskId) ?? 0) + 1;
      live.missing.set(taskId, misses);
      if (misses < MISSING_HEARTBEATS_BEFORE_LOST) continue;

      live.missing.delete(taskId);
      const task = await store.getTask(taskId);
      // An unconfirmed dispatch is still in the dispatcher's hands; the runner may simply not have it yet.
      if (task === undefined || (task.status === "assigning" && !task.dispatch_confirmed)) continue;
      const result = await tasks.applyRunnerUpdate({
        task_id: taskId,
        status: "lost",
        message: `Runner ${hostname} no longer reports this task.`,
      });
      if (result.applied) logger.warn({ taskId, node: hostname }, "task missing from heartbeats; marked lost");
    }
    return stopTasks;
  }

  /** Writes the heartbeat metrics gathered since the last flush in one transaction. */
  async flushMetrics(): Promise<void> {
    const updates = [];
    for (const live of this.nodes.values()) {
      if (!live.dirty) continue;
      live.dirty = false;
      const { hostname, registered_at: _registeredAt, ...fields } = live.record;
      updates.push({ hostname, fields });
    }
    if (updates.length > 0) await this.options.store.updateNodes(updates);
  }
}

export function capacityOf(record: NodeRecord): import("../scheduler/ledger.js").NodeCapacity {
  return {
    hostname: record.hostname,
    url: record.url,
    totalCores: record.total_cores,
    memoryBytes: record.memory_total_bytes,
    // A runner listing one GPU twice must not make it count as two.
    gpuIds: [...new Set(record.gpu_info.map((gpu) => gpu.gpu_id))],
    numaTopology: record.numa_topology,
  };
}
