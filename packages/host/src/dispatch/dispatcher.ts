/**
 * Durable dispatch: sends each `assigning` task to its runner until the runner confirms it.
 *
 * Retries with backoff while the runner is unreachable or returns 5xx. Runners treat a repeated task id as
 * the same task, so sending twice is harmless. After a host restart every task still `assigning` is sent
 * again. A 4xx response means the runner can never run the request, so the task fails with the runner's reason.
 * Dispatch stops by itself when the task leaves `assigning` (node offline → lost, killed, finished).
 */

import { environmentImageTag, type RunnerVpsCreateRequest, type TaskExecuteRequest } from "@kohakuriver/api";
import { backoffDelayMs, type Logger } from "@kohakuriver/common";

import type { Store, TaskRecord } from "../store/types.js";
import type { ResourceLedger } from "../scheduler/ledger.js";
import { RunnerUnreachableError, responseDetail, type RunnerClient } from "./runner-client.js";

/** Dispatches sent at the same time to one runner; more wait their turn. */
const MAX_IN_FLIGHT_PER_NODE = 16;

export interface DispatcherOptions {
  store: Store;
  ledger: ResourceLedger;
  runners: RunnerClient;
  logger: Logger;
  workingDir: string;
  /** Called after a task failed to dispatch for good, so the scheduler can use the freed resources. */
  onTaskFinished: (taskId: string) => void;
}

export class Dispatcher {
  private readonly active = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly abort = new AbortController();
  private readonly nudgeWaiters = new Set<() => void>();

  constructor(private readonly options: DispatcherOptions) {}

  get activeCount(): number {
    return this.active.size;
  }

  enqueue(taskId: string): void {
    if (this.active.has(taskId) || this.abort.signal.aborted) return;
    this.active.add(taskId);
    void this.dispatchUntilConfirmed(taskId).finally(() => this.active.delete(taskId));
  }

  stop(): void {
    this.abort.abort();
    this.nudge();
  }

  /**
   * Makes every waiting dispatch try again now. The node registry calls it when a node becomes reachable,
   * so tasks do not sit out the rest of a long backoff.
   */
  nudge(): void {
    for (const resolve of [...this.nudgeWaiters]) resolve();
  }

  private async dispatchUntilConfirmed(taskId: string): Promise<void> {
    const { store, logger } = this.options;

    for (let attempt = 0; !this.abort.signal.aborted; attempt += 1) {
      if (attempt > 0) await this.waitForRetry(backoffDelayMs(attempt - 1, 250, 10_000));
      if (this.abort.signal.aborted) return;

      let task: TaskRecord | undefined;
      try {
        task = await store.getTask(taskId);
      } catch (error) {
        logger.error({ err: error, taskId }, "cannot read task for dispatch; will retry");
        continue;
      }
      if (task === undefined || task.status !== "assigning" || task.dispatch_confirmed) return;
      if (task.assigned_node === null) return;

      const node = this.options.ledger.getNode(task.assigned_node);
      if (node === undefined) return;
      if (!node.schedulable) continue;

      const outcome = await this.sendOnce(task, { hostname: node.capacity.hostname, url: node.capacity.url });
      if (outcome === "done") return;
      if (attempt > 0 && attempt % 10 === 0) {
        logger.warn({ taskId, node: task.assigned_node, attempt }, "dispatch still not confirmed; retrying");
      }
    }
  }

  /** Sleeps for the backoff delay, or less when nudged. */
  private waitForRetry(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.nudgeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, delayMs);
      this.nudgeWaiters.add(done);
    });
  }

  private async sendOnce(task: TaskRecord, runner: { hostname: string; url: string }): Promise<"done" | "retry"> {
    const { store, logger } = this.options;
    await this.acquireSlot(runner.hostname);
    try {
      const response =
        task.task_type === "vps"
          ? await this.options.runners.call(runner, "POST", "/api/vps/create", this.vpsCreateRequestOf(task), 30_000)
          : await this.options.runners.call(runner, "POST", "/api/execute", this.executeRequestOf(task), 30_000);

      if (response.status >= 200 && response.status < 300) {
        await store.updateTask(task.task_id, { dispatch_confirmed: true });
        logger.debug({ taskId: task.task_id, node: runner.hostname }, "dispatch confirmed");
        return "done";
      }
      if (
        response.status >= 400 &&
        response.status < 500 &&
        response.status !== 401 &&
        response.status !== 408 &&
        response.status !== 429
      ) {
        const detail = responseDetail(response);
        const failed = await store.transitionTask({
          taskId: task.task_id,
          to: "failed",
          from: ["assigning"],
          fields: {
            error_message: `runner ${runner.hostname} rejected the task: ${detail}`,
            completed_at: new Date().toISOString(),
          },
        });
        if (failed) {
          this.options.ledger.release(task.task_id);
          this.options.onTaskFinished(task.task_id);
        }
        logger.warn(
          { taskId: task.task_id, node: runner.hostname, status: response.status, detail },
          "runner rejected dispatch",
        );
        return "done";
      }
      if (response.status === 401) {
        logger.error(
          { node: runner.hostname },
          "runner rejected the cluster token; check CLUSTER_TOKEN on that runner",
        );
      } else {
        logger.warn(
          { taskId: task.task_id, node: runner.hostname, status: response.status },
          "dispatch failed; will retry",
        );
      }
      return "retry";
    } catch (error) {
      if (error instanceof RunnerUnreachableError) {
        logger.warn(
          { taskId: task.task_id, node: runner.hostname, reason: error.message },
          "dispatch failed; will retry",
        );
      } else {
        logger.error({ err: error, taskId: task.task_id }, "dispatch failed; will retry");
      }
      return "retry";
    } finally {
      this.releaseSlot(runner.hostname);
    }
  }

  private executeRequestOf(task: TaskRecord): TaskExecuteRequest {
    return {
      task_id: task.task_id,
      command: task.command,
      arguments: task.arguments,
      shell: task.shell,
      env_vars: task.env_vars,
      required_cores: task.required_cores,
      required_gpus: task.required_gpus,
      required_memory_bytes: task.required_memory_bytes,
      target_numa_node_id: task.target_numa_node_id,
      container_name: task.container_name,
      registry_image: task.registry_image,
      docker_image_name: task.docker_image_name ?? environmentImageTag(task.container_name ?? "kohakuriver-base"),
      working_dir: this.options.workingDir,
      stdout_path: task.stdout_path,
      stderr_path: task.stderr_path,
      privileged: task.docker_privileged,
      additional_mounts: task.docker_mount_dirs,
      reserved_ip: null,
    };
  }

  private vpsCreateRequestOf(task: TaskRecord): RunnerVpsCreateRequest {
    return {
      task_id: task.task_id,
      generation: task.generation,
      name: task.name,
      required_cores: task.required_cores,
      required_gpus: task.required_gpus,
      required_memory_bytes: task.required_memory_bytes,
      target_numa_node_id: task.target_numa_node_id,
      container_name: task.container_name,
      registry_image: task.registry_image,
      docker_image_name: task.docker_image_name ?? environmentImageTag(task.container_name ?? "kohakuriver-base"),
      ssh_key_mode: task.ssh_key_mode ?? "disabled",
      ssh_public_key: task.ssh_public_key,
      restore_snapshot: task.vps_restore_snapshot,
      working_dir: this.options.workingDir,
      privileged: task.docker_privileged,
      additional_mounts: task.docker_mount_dirs,
      reserved_ip: null,
      vps_backend: "docker",
    };
  }

  private async acquireSlot(hostname: string): Promise<void> {
    while ((this.inFlight.get(hostname) ?? 0) >= MAX_IN_FLIGHT_PER_NODE) {
      await new Promise<void>((resolve) => {
        const queue = this.waiters.get(hostname) ?? [];
        queue.push(resolve);
        this.waiters.set(hostname, queue);
      });
    }
    this.inFlight.set(hostname, (this.inFlight.get(hostname) ?? 0) + 1);
  }

  private releaseSlot(hostname: string): void {
    this.inFlight.set(hostname, Math.max(0, (this.inFlight.get(hostname) ?? 1) - 1));
    this.waiters.get(hostname)?.shift()?.();
  }
}
