/**
 * The host's task operations: submission, kill, pause and resume, and the status reports of runners.
 * Every change goes through here so that the store, the resource ledger and the queue stay in step.
 */

import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  TERMINAL_STATUSES,
  UnavailableError,
  canTransition,
  type ParsedTaskSubmission,
  type TaskStatus,
  type TaskStatusUpdate,
} from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";

import type { HostConfig } from "../config.js";
import { RunnerUnreachableError, responseDetail, type RunnerClient } from "../dispatch/runner-client.js";
import type { ResourceLedger } from "../scheduler/ledger.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { SnowflakeGenerator } from "../scheduler/snowflake.js";
import type { Store, TaskRecord } from "../store/types.js";
import { buildTaskRecords } from "./submission.js";

export interface TaskServiceOptions {
  config: HostConfig;
  store: Store;
  ledger: ResourceLedger;
  scheduler: Scheduler;
  runners: RunnerClient;
  ids: SnowflakeGenerator;
  logger: Logger;
}

const RUNNER_RUNNING_FROM: ReadonlySet<TaskStatus> = new Set(["assigning", "lost"]);

/**
 * Statuses that a runner may report. The others belong to the host's queue and approval flow. The original
 * runner reported `pending` before pulling the image, and applying that would leave the task `pending`
 * with its resources still allocated and outside the queue, so nothing would ever place it again.
 */
const RUNNER_REPORTED: ReadonlySet<TaskStatus> = new Set([
  "running",
  "paused",
  "lost",
  "completed",
  "failed",
  "killed",
  "killed_oom",
  "stopped",
]);

/** Statuses of tasks that no runner has been given yet, so no runner can report on them. */
const NOT_DISPATCHED: ReadonlySet<TaskStatus> = new Set(["pending_approval", "pending"]);

/** The account that submits or approves a task, as far as the task records it. */
export interface TaskActor {
  /** The account id, or null when no account acts (authentication disabled, or the admin secret). */
  accountId: number | null;
  /** True for `user` accounts, whose submissions wait for an operator's approval. */
  needsApproval: boolean;
}

export interface UpdateResult {
  applied: boolean;
  message: string;
}

export class TaskService {
  constructor(private readonly options: TaskServiceOptions) {}

  /**
   * Validates and stores a submission (all tasks or none). Tasks of a submitter that needs approval wait
   * as `pending_approval` outside the queue and hold no resources; the others are queued at once.
   */
  async submit(
    submission: ParsedTaskSubmission,
    submitter: TaskActor = { accountId: null, needsApproval: false },
  ): Promise<TaskRecord[]> {
    const { store, scheduler, config, ledger, ids, logger } = this.options;
    const now = new Date();
    const records = buildTaskRecords(submission, {
      config,
      ledger,
      nextTaskId: () => ids.next(),
      now: () => now,
    }).map((record): TaskRecord => {
      if (submitter.needsApproval) {
        return { ...record, owner_id: submitter.accountId, status: "pending_approval", approval_status: "pending" };
      }
      if (submitter.accountId === null) return record;
      return {
        ...record,
        owner_id: submitter.accountId,
        approval_status: "approved",
        approved_by_id: submitter.accountId,
        approved_at: now.toISOString(),
      };
    });

    await store.insertTasks(records);
    if (!submitter.needsApproval) scheduler.enqueue(records);
    logger.info(
      {
        taskIds: records.map((record) => record.task_id),
        targets: submission.targets,
        ownerId: submitter.accountId,
        status: records[0]?.status,
      },
      "task submitted",
    );
    return records;
  }

  /** Moves a task from `pending_approval` into the queue, where the scheduler places it on an online node. */
  async approve(taskId: string, approver: TaskActor): Promise<string> {
    const { store, scheduler, logger } = this.options;
    const task = await this.get(taskId);
    if (task.status !== "pending_approval") {
      throw new ConflictError(`task ${taskId} is ${task.status}; only tasks waiting for approval can be approved`);
    }
    const applied = await store.transitionTask({
      taskId,
      to: "pending",
      from: ["pending_approval"],
      fields: {
        approval_status: "approved",
        approved_by_id: approver.accountId,
        approved_at: new Date().toISOString(),
      },
    });
    if (!applied) throw new ConflictError(`task ${taskId} changed status while it was being approved; check it again`);

    scheduler.enqueue([{ ...task, status: "pending" }]);
    logger.info({ taskId, approverId: approver.accountId }, "task approved");
    return `Task ${taskId} approved; it waits in the queue until a node has room.`;
  }

  /** Rejects a task waiting for approval and stores the reason. */
  async reject(taskId: string, approver: TaskActor, reason: string | null): Promise<string> {
    const { store, logger } = this.options;
    const task = await this.get(taskId);
    if (task.status !== "pending_approval") {
      throw new ConflictError(`task ${taskId} is ${task.status}; only tasks waiting for approval can be rejected`);
    }
    const now = new Date().toISOString();
    const applied = await store.transitionTask({
      taskId,
      to: "rejected",
      from: ["pending_approval"],
      fields: {
        approval_status: "rejected",
        approved_by_id: approver.accountId,
        approved_at: now,
        rejection_reason: reason,
        completed_at: now,
      },
    });
    if (!applied) throw new ConflictError(`task ${taskId} changed status while it was being rejected; check it again`);
    logger.info({ taskId, approverId: approver.accountId, reason }, "task rejected");
    return reason === null ? `Task ${taskId} rejected.` : `Task ${taskId} rejected: ${reason}`;
  }

  async get(taskId: string): Promise<TaskRecord> {
    const task = await this.options.store.getTask(taskId);
    if (task === undefined) throw new NotFoundError(`task ${taskId} not found`);
    return task;
  }

  /** Kills a task in any unfinished status; stops its container when it was given to a runner. */
  async kill(taskId: string): Promise<string> {
    const { store, scheduler, ledger, logger } = this.options;

    for (let attempt = 0; attempt < 5; attempt += 1) {
      const task = await this.get(taskId);
      if (TERMINAL_STATUSES.has(task.status)) {
        throw new ConflictError(`task ${taskId} is already ${task.status}; only unfinished tasks can be killed`);
      }

      const startedOnRunner = task.status !== "pending" && task.status !== "pending_approval";
      const applied = await store.transitionTask({
        taskId,
        to: "killed",
        from: [task.status],
        fields: {
          error_message: startedOnRunner ? "Kill requested by user." : "Killed by user before it started.",
          completed_at: new Date().toISOString(),
        },
      });
      if (!applied) continue;

      scheduler.remove(taskId);
      ledger.release(taskId);
      scheduler.kick();
      logger.info({ taskId, previousStatus: task.status }, "task killed");

      if (!startedOnRunner || task.assigned_node === null) return `Task ${taskId} killed.`;
      const stopped = await this.stopOnRunner(task.assigned_node, taskId);
      return stopped === null
        ? `Task ${taskId} killed.`
        : `Task ${taskId} killed; ${stopped} It stops when the runner reports back.`;
    }
    throw new ConflictError(`task ${taskId} changed status while it was being killed; try again`);
  }

  /** Sends a kill to the runner; returns null on success, else a sentence saying why it did not happen now. */
  private async stopOnRunner(hostname: string, taskId: string): Promise<string | null> {
    const node = this.options.ledger.getNode(hostname);
    if (node === undefined || !node.schedulable) return `node ${hostname} is offline.`;
    try {
      const response = await this.options.runners.call(
        { hostname, url: node.capacity.url },
        "POST",
        "/api/kill",
        { task_id: taskId },
        15_000,
      );
      if (response.status >= 200 && response.status < 300) return null;
      return `runner ${hostname} answered: ${responseDetail(response)}.`;
    } catch (error) {
      if (error instanceof RunnerUnreachableError) return `${error.message}.`;
      throw error;
    }
  }

  /** Pauses a running task or resumes a paused one; it keeps its cores, memory and GPUs meanwhile. */
  async control(taskId: string, command: "pause" | "resume"): Promise<string> {
    const { store, ledger, runners, logger } = this.options;
    const task = await this.get(taskId);
    const from: TaskStatus = command === "pause" ? "running" : "paused";
    const to: TaskStatus = command === "pause" ? "paused" : "running";

    if (task.status !== from) {
      throw new ConflictError(`task ${taskId} is ${task.status}; only ${from} tasks can be ${command}d`);
    }
    const hostname = task.assigned_node;
    const node = hostname === null ? undefined : ledger.getNode(hostname);
    if (hostname === null || node === undefined || !node.schedulable) {
      throw new UnavailableError(
        `node ${hostname ?? "(none)"} of task ${taskId} is offline; try again when it is back`,
      );
    }

    let response;
    try {
      response = await runners.call({ hostname, url: node.capacity.url }, "POST", `/api/${command}`, {
        task_id: taskId,
      });
    } catch (error) {
      if (error instanceof RunnerUnreachableError) throw new UnavailableError(error.message, error);
      throw error;
    }
    if (response.status < 200 || response.status >= 300) {
      throw new UnavailableError(`runner ${hostname} could not ${command} task ${taskId}: ${responseDetail(response)}`);
    }

    const applied = await store.transitionTask({ taskId, to, from: [from] });
    if (!applied) throw new ConflictError(`task ${taskId} changed status while it was being ${command}d`);
    logger.info({ taskId, node: hostname }, command === "pause" ? "task paused" : "task resumed");
    return `Task ${taskId} ${command}d.`;
  }

  /**
   * Applies a runner's status report. Reports are ignored when they name a status that only the host sets,
   * a task that no runner has been given, or a move backwards or out of a final status.
   */
  async applyRunnerUpdate(update: TaskStatusUpdate & { task_id: string }): Promise<UpdateResult> {
    const { store, ledger, scheduler, logger } = this.options;
    if (update.status === "assigning") return this.applyProgress(update);
    if (!RUNNER_REPORTED.has(update.status)) {
      return { applied: false, message: `task ${update.task_id}: runners cannot report ${update.status}; ignored` };
    }

    for (let attempt = 0; attempt < 5; attempt += 1) {
      const task = await store.getTask(update.task_id);
      if (task === undefined) return { applied: false, message: `task ${update.task_id} not found` };
      if (update.generation !== undefined && update.generation < task.generation) {
        return {
          applied: false,
          message: `VPS ${update.task_id} was restarted (generation ${task.generation}); report on generation ${update.generation} ignored`,
        };
      }
      // A VPS container that the engine restarted (after a crash or an engine restart) has a new SSH port.
      if (
        update.status === "running" &&
        (task.status === "running" || task.status === "paused") &&
        update.ssh_port !== undefined &&
        update.ssh_port !== null &&
        update.ssh_port !== task.ssh_port
      ) {
        await store.updateTask(task.task_id, { ssh_port: update.ssh_port });
        logger.info({ taskId: task.task_id, sshPort: update.ssh_port }, "VPS SSH port changed");
        return { applied: true, message: `VPS ${task.task_id} now publishes SSH on port ${update.ssh_port}` };
      }
      // A repeated `running` report (its acknowledgement was lost) must not undo a pause.
      const allowed =
        !NOT_DISPATCHED.has(task.status) &&
        (update.status === "running"
          ? RUNNER_RUNNING_FROM.has(task.status)
          : canTransition(task.status, update.status));
      if (!allowed) {
        return { applied: false, message: `task ${update.task_id} is ${task.status}; ${update.status} ignored` };
      }

      const now = new Date().toISOString();
      // `lost` frees the task's resources like a final status, but the task may still come back.
      const finished = TERMINAL_STATUSES.has(update.status) || update.status === "lost";
      const applied = await store.transitionTask({
        taskId: task.task_id,
        to: update.status,
        from: [task.status],
        fields: {
          dispatch_confirmed: true,
          started_at: task.started_at ?? update.started_at ?? (update.status === "running" ? now : null),
          ...(update.ssh_port !== undefined && update.ssh_port !== null ? { ssh_port: update.ssh_port } : {}),
          ...(finished
            ? {
                exit_code: update.exit_code ?? null,
                error_message: update.message ?? null,
                completed_at: update.completed_at ?? now,
              }
            : {
                completed_at: null,
                // A task back from `lost` drops the loss reason, and one that starts drops its progress message.
                error_message: task.status === "lost" || task.status === "assigning" ? null : task.error_message,
              }),
        },
      });
      if (!applied) continue;

      if (finished) {
        ledger.release(task.task_id);
        scheduler.kick();
      } else if (ledger.getAllocation(task.task_id) === undefined && task.assigned_node !== null) {
        // Back from `lost`: the task uses its resources again.
        ledger.allocate({
          taskId: task.task_id,
          hostname: task.assigned_node,
          cores: task.required_cores,
          memoryBytes: task.required_memory_bytes ?? 0,
          gpuIds: task.required_gpus,
        });
      }
      logger.info(
        { taskId: task.task_id, node: task.assigned_node, status: update.status, exitCode: update.exit_code },
        "task status updated",
      );
      return { applied: true, message: `task ${task.task_id} is now ${update.status}` };
    }
    return { applied: false, message: `task ${update.task_id} kept changing; report again` };
  }

  /**
   * Stores a runner's progress message (an image being loaded or pulled) as the status message of a task
   * that is still `assigning`. The status itself does not change.
   */
  private async applyProgress(update: TaskStatusUpdate & { task_id: string }): Promise<UpdateResult> {
    const applied = await this.options.store.transitionTask({
      taskId: update.task_id,
      to: "assigning",
      from: ["assigning"],
      fields: { error_message: update.message ?? null },
    });
    return applied
      ? { applied: true, message: `task ${update.task_id}: progress stored` }
      : { applied: false, message: `task ${update.task_id} is not assigning; progress ignored` };
  }

  /** Marks every task with resources allocated on an offline node as `lost`. */
  async markNodeTasksLost(hostname: string, reason: string): Promise<number> {
    const { store, ledger } = this.options;
    const tasks = await store.listTasks({ node: hostname, statuses: ["assigning", "running", "paused"] });
    if (tasks.length === 0) return 0;

    const now = new Date().toISOString();
    const applied = await store.transitionTasks(
      tasks.map((task) => ({
        taskId: task.task_id,
        to: "lost" as const,
        from: [task.status],
        fields: { error_message: reason, completed_at: now, exit_code: null },
      })),
    );
    tasks.forEach((task, index) => {
      if (applied[index] === true) ledger.release(task.task_id);
    });
    return applied.filter(Boolean).length;
  }

  /** Validates that an id looks like a task id before touching the store. */
  static checkTaskId(taskId: string): void {
    if (!/^\d{1,20}$/.test(taskId))
      throw new InvalidInputError(`task_id: '${taskId}' is not a decimal task id`, "task_id");
  }
}
