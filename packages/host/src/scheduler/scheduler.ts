/**
 * The scheduler: keeps the queue of `pending` tasks in memory (oldest first), places them whenever
 * something changes (a submission, a finished task, a node joining), persists each placement as
 * `pending → assigning` and hands the task to the dispatcher.
 */

import type { Logger } from "@kohakuriver/common";

import type { Store, TaskRecord } from "../store/types.js";
import type { ResourceLedger, ResourceRequest } from "./ledger.js";
import { placeQueuedTasks, type QueuedTask } from "./placement.js";

export interface DispatchSink {
  enqueue(taskId: string): void;
}

export function resourceRequestOf(task: TaskRecord): ResourceRequest {
  return {
    cores: task.required_cores,
    memoryBytes: task.required_memory_bytes,
    gpuIds: task.required_gpu_count > 0 ? [] : task.required_gpus,
    gpuCount: task.required_gpu_count,
    numaNodeId: task.target_numa_node_id,
  };
}

export class Scheduler {
  private queue: QueuedTask[] = [];
  private passRunning = false;
  private passRequested = false;
  private passTimer: NodeJS.Immediate | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly ledger: ResourceLedger,
    private readonly dispatch: DispatchSink,
    private readonly logger: Logger,
  ) {}

  /** Number of tasks waiting in the queue. */
  get queueLength(): number {
    return this.queue.length;
  }

  /** Adds pending tasks to the queue, keeping it ordered by task id (ids grow with submission time). */
  enqueue(tasks: readonly TaskRecord[]): void {
    for (const task of tasks) {
      const entry: QueuedTask = {
        taskId: task.task_id,
        targetNode: task.target_node,
        request: resourceRequestOf(task),
      };
      const last = this.queue[this.queue.length - 1];
      if (last === undefined || compareIds(last.taskId, entry.taskId) < 0) {
        this.queue.push(entry);
      } else {
        const index = this.queue.findIndex((queued) => compareIds(queued.taskId, entry.taskId) > 0);
        this.queue.splice(index === -1 ? this.queue.length : index, 0, entry);
      }
    }
    this.kick();
  }

  /** Drops a task from the queue (it was killed or rejected while waiting). */
  remove(taskId: string): void {
    this.queue = this.queue.filter((entry) => entry.taskId !== taskId);
  }

  /** Position (1-based) of a task in the queue, or null when it is not queued. */
  positionOf(taskId: string): number | null {
    const index = this.queue.findIndex((entry) => entry.taskId === taskId);
    return index === -1 ? null : index + 1;
  }

  /** Requests a scheduling pass soon; several requests before it runs make one pass. */
  kick(): void {
    if (this.stopped) return;
    if (this.passRunning) {
      this.passRequested = true;
      return;
    }
    if (this.passTimer === null) {
      this.passTimer = setImmediate(() => {
        this.passTimer = null;
        void this.runPasses();
      });
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.passTimer !== null) clearImmediate(this.passTimer);
    this.passTimer = null;
  }

  /** Runs passes until one finds nothing new to place; resolves when done (tests and start-up await it). */
  async runPasses(): Promise<void> {
    if (this.passRunning) {
      this.passRequested = true;
      return;
    }
    this.passRunning = true;
    try {
      do {
        this.passRequested = false;
        await this.runOnePass();
      } while (this.passRequested && !this.stopped);
    } finally {
      this.passRunning = false;
    }
  }

  private async runOnePass(): Promise<void> {
    if (this.queue.length === 0) return;
    const placements = placeQueuedTasks(this.queue, this.ledger);
    if (placements.length === 0) return;

    let applied: boolean[];
    try {
      applied = await this.store.transitionTasks(
        placements.map((placement) => ({
          taskId: placement.taskId,
          to: "assigning" as const,
          from: ["pending" as const],
          fields: { assigned_node: placement.hostname, required_gpus: placement.gpuIds, error_message: null },
        })),
      );
    } catch (error) {
      for (const placement of placements) this.ledger.release(placement.taskId);
      this.logger.error({ err: error, count: placements.length }, "failed to store placements; will retry");
      setTimeout(() => this.kick(), 1000).unref();
      return;
    }

    const placed = new Set<string>();
    placements.forEach((placement, index) => {
      placed.add(placement.taskId);
      if (applied[index] === true) {
        this.logger.debug({ taskId: placement.taskId, node: placement.hostname }, "task placed");
        this.dispatch.enqueue(placement.taskId);
      } else {
        // The task left `pending` meanwhile (killed while queued): give its resources back.
        this.ledger.release(placement.taskId);
      }
    });
    this.queue = this.queue.filter((entry) => !placed.has(entry.taskId));
  }
}

function compareIds(left: string, right: string): number {
  const difference = BigInt(left) - BigInt(right);
  if (difference < 0n) return -1;
  if (difference > 0n) return 1;
  return 0;
}
