/** The exit code of `task submit --wait` for a finished task, so scripts can branch on the task's result. */

import type { TaskResponse } from "@kohakuriver/api";

/** Exit code of a process killed by SIGKILL (128 + 9), as shells report it. */
export const KILLED_EXIT_CODE = 137;

/**
 * Maps a finished task to an exit code: completed is 0, failed is the task's own exit code when it is
 * 1 to 255 (else 1), killed and killed_oom are 137, and lost, stopped and rejected are 1.
 */
export function taskExitCode(task: Pick<TaskResponse, "status" | "exit_code">): number {
  switch (task.status) {
    case "completed":
      return 0;
    case "failed": {
      const code = task.exit_code;
      return code !== null && Number.isInteger(code) && code >= 1 && code <= 255 ? code : 1;
    }
    case "killed":
    case "killed_oom":
      return KILLED_EXIT_CODE;
    default:
      return 1;
  }
}

/** Returns the exit code for several tasks of one batch: the first non-zero code in task order, else 0. */
export function batchExitCode(tasks: Array<Pick<TaskResponse, "status" | "exit_code">>): number {
  for (const task of tasks) {
    const code = taskExitCode(task);
    if (code !== 0) return code;
  }
  return 0;
}
