/**
 * Task status names and the allowed transitions between them.
 *
 * The names are the original's. The transition table is stricter than the original: a final status is
 * never overwritten, so a killed task cannot later become completed. It is also looser: a `lost` task
 * returns to `running`, or takes its real final status, when its runner reports it again.
 */

export const TASK_STATUSES = [
  "pending_approval",
  "rejected",
  "pending",
  "assigning",
  "running",
  "paused",
  "completed",
  "failed",
  "killed",
  "killed_oom",
  "lost",
  "stopped",
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses after which nothing changes any more. `lost` is not among them: its runner may come back. */
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  "completed",
  "failed",
  "killed",
  "killed_oom",
  "stopped",
  "rejected",
]);

/** Statuses shown to users as finished, as the original's "final" set: the terminal ones plus `lost`. */
export const FINISHED_STATUSES: ReadonlySet<TaskStatus> = new Set([...TERMINAL_STATUSES, "lost"]);

/** Statuses in which a task has cores, memory and GPUs allocated on its node (paused tasks keep them). */
export const RESOURCE_HOLDING_STATUSES: ReadonlySet<TaskStatus> = new Set(["assigning", "running", "paused"]);

const RUNNER_FINAL: TaskStatus[] = ["completed", "failed", "killed", "killed_oom", "stopped"];

const TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  pending_approval: ["pending", "rejected", "killed"],
  pending: ["assigning", "killed", "failed"],
  assigning: ["running", "paused", "pending", "lost", ...RUNNER_FINAL],
  running: ["paused", "lost", ...RUNNER_FINAL],
  paused: ["running", "lost", ...RUNNER_FINAL],
  lost: ["assigning", "running", "paused", ...RUNNER_FINAL],
  completed: [],
  failed: [],
  killed: [],
  killed_oom: [],
  stopped: [],
  rejected: [],
};

export function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Returns the statuses from which `to` may be entered; the store uses it as a guard in UPDATE … WHERE. */
export function statusesThatMayBecome(to: TaskStatus): TaskStatus[] {
  return TASK_STATUSES.filter((from) => TRANSITIONS[from].includes(to));
}
