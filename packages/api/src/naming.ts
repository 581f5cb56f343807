/** Names on disk and in Docker that existing tools, images and scripts depend on; keep them unchanged. */

export const LABEL_TASK_ID = "kohakuriver.task_id";
export const LABEL_TASK_TYPE = "kohakuriver.task_type";
export const LABEL_NODE = "kohakuriver.node";

export function taskContainerName(taskId: string): string {
  return `kohakuriver-task-${taskId}`;
}

export function vpsContainerName(taskId: string): string {
  return `kohakuriver-vps-${taskId}`;
}

/** Image repository of a VPS's snapshots; each snapshot is tagged with its Unix timestamp in seconds. */
export function snapshotRepository(taskId: string): string {
  return `kohakuriver-snapshot/vps-${taskId}`;
}

/** Image tag of an environment: `kohakuriver/{env}:base`. */
export function environmentImageTag(environmentName: string): string {
  return `kohakuriver/${environmentName.toLowerCase()}:base`;
}

/** Relative path of a task's log file under SHARED_DIR: `logs/{task_id}/stdout.log`. */
export function taskLogRelativePath(taskId: string, stream: "stdout" | "stderr"): string {
  return `logs/${taskId}/${stream}.log`;
}
