/**
 * Finds where a running task or VPS lives, for the routes that reach into it (terminal, port forwarding,
 * files, change watching): the task must be running on a node that is not known to be offline.
 */

import { ConflictError, NotFoundError, UnavailableError } from "@kohakuriver/api";

import type { ResourceLedger } from "../scheduler/ledger.js";
import type { Store, TaskRecord } from "../store/types.js";

export interface TaskTarget {
  task: TaskRecord;
  node: { hostname: string; url: string };
}

export class TaskTargets {
  constructor(private readonly options: { store: Store; ledger: ResourceLedger }) {}

  /** Throws NotFoundError, ConflictError or UnavailableError with a message that names the next step. */
  async resolveRunning(taskId: string): Promise<TaskTarget> {
    const task = await this.options.store.getTask(taskId);
    if (task === undefined)
      throw new NotFoundError(`task ${taskId} not found; list tasks with 'kohakuriver task list'`);
    const kind = task.task_type === "vps" ? "VPS" : "task";
    if (task.status !== "running") {
      const hint =
        task.status === "paused"
          ? `; resume it first (kohakuriver ${task.task_type === "vps" ? "vps" : "task"} resume ${taskId})`
          : "";
      throw new ConflictError(`${kind} ${taskId} is ${task.status}, not running${hint}`);
    }
    if (task.assigned_node === null)
      throw new ConflictError(`${kind} ${taskId} has no node yet; try again in a moment`);
    // A node not heard from since a host restart is tried anyway; only a node known to be down is refused.
    const live = this.options.ledger.getNode(task.assigned_node);
    const record = await this.options.store.getNode(task.assigned_node);
    const url = live?.capacity.url ?? record?.url;
    if (url === undefined || record?.status === "offline") {
      throw new UnavailableError(
        `node ${task.assigned_node} of ${kind} ${taskId} is offline; try again when it is back`,
      );
    }
    return { task, node: { hostname: task.assigned_node, url } };
  }
}

/** Returns the WebSocket URL of a path on a runner, from the runner's HTTP base URL. */
export function runnerSocketUrl(runnerUrl: string, path: string): string {
  return `${runnerUrl.replace(/\/+$/, "").replace(/^http/, "ws")}${path}`;
}
