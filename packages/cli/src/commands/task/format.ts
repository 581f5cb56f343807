/** Text views of tasks shared by the task commands: status colors, the detail view and result lines. */

import { formatBytes, type TaskResponse, type TaskStatus } from "@kohakuriver/api";

import type { Colors } from "../../output.js";

export function colorStatus(status: TaskStatus, colors: Colors): string {
  switch (status) {
    case "completed":
      return colors.green(status);
    case "running":
      return colors.cyan(status);
    case "pending":
    case "pending_approval":
    case "assigning":
      return colors.yellow(status);
    case "paused":
      return colors.magenta(status);
    case "stopped":
      return colors.dim(status);
    default:
      return colors.red(status);
  }
}

/** Formats the task's command as a user would type it, quoting exec-form words for a POSIX shell where needed. */
export function formatCommand(task: Pick<TaskResponse, "command" | "arguments" | "shell">): string {
  if (task.shell) return [task.command, ...task.arguments.map(quoteWord)].join(" ");
  return [task.command, ...task.arguments].map(quoteWord).join(" ");
}

function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_\-+=.,/:@%^]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Formats an ISO timestamp in local time as `2026-12-04 10:00:01`, or `-` when absent. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === "") return "-";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (value: number): string => String(value).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Formats a duration in seconds as `42s`, `3m 05s` or `2h 07m`. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m ${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

export function formatCores(cores: number): string {
  return cores === 0 ? "no limit" : `${cores}`;
}

/** Formats the GPUs a task requested: indices when named, else a count for automatic placement. */
export function formatGpus(task: Pick<TaskResponse, "required_gpus" | "required_gpu_count">): string {
  if (task.required_gpus.length > 0) return task.required_gpus.join(",");
  if (task.required_gpu_count > 0) return `${task.required_gpu_count} (any)`;
  return "-";
}

/** Returns the node a task runs on, or the node it was submitted for while it waits. */
export function taskNode(task: Pick<TaskResponse, "assigned_node" | "target_node">): string {
  return task.assigned_node ?? task.target_node ?? "-";
}

/** Label and value pairs for `task status` and `task watch`. */
export function taskDetails(task: TaskResponse, colors: Colors, now = Date.now()): Array<[string, string]> {
  const pairs: Array<[string, string]> = [
    ["Task", task.task_id],
    ["Status", colorStatus(task.status, colors)],
  ];
  if (task.name !== null) pairs.push(["Name", task.name]);
  if (task.batch_id !== null) pairs.push(["Batch", task.batch_id]);

  pairs.push(["Node", taskNode(task)]);
  if (task.target_numa_node_id !== null) pairs.push(["NUMA node", String(task.target_numa_node_id)]);
  pairs.push(["Command", formatCommand(task)]);
  pairs.push(["Image", task.registry_image ?? task.docker_image_name ?? task.container_name ?? "-"]);
  pairs.push(["Cores", formatCores(task.required_cores)]);
  pairs.push(["Memory", task.required_memory_bytes === null ? "no limit" : formatBytes(task.required_memory_bytes)]);
  pairs.push(["GPUs", formatGpus(task)]);
  if (task.owner_username !== null) pairs.push(["Owner", task.owner_username]);
  if (task.approval_status !== null) pairs.push(["Approval", formatApproval(task)]);

  pairs.push(["Exit code", task.exit_code === null ? "-" : String(task.exit_code)]);
  if (task.error_message !== null && task.error_message !== "") pairs.push(["Error", task.error_message]);

  pairs.push(["Submitted", formatTime(task.submitted_at)]);
  pairs.push(["Started", formatTime(task.started_at)]);
  pairs.push(["Finished", formatTime(task.completed_at)]);
  if (task.started_at !== null) {
    const end = task.completed_at === null ? now : Date.parse(task.completed_at);
    pairs.push(["Duration", formatDuration((end - Date.parse(task.started_at)) / 1000)]);
  }
  pairs.push(["Logs", `kohakuriver task logs ${task.task_id}`]);
  return pairs;
}

/** Formats the approval state: `approved by bob`, `rejected by bob: reason` or `pending`. */
function formatApproval(task: TaskResponse): string {
  const approver = task.approved_by_username ?? (task.approved_by_id === null ? null : `user ${task.approved_by_id}`);
  let text = task.approval_status ?? "-";
  if (approver !== null && task.approval_status !== "pending") text += ` by ${approver}`;
  if (task.rejection_reason !== null && task.rejection_reason !== "") text += `: ${task.rejection_reason}`;
  return text;
}

/** Formats one line summarizing a finished task: `task 123 failed (exit code 2): message`. */
export function taskResultLine(task: TaskResponse, colors: Colors): string {
  let line = `task ${task.task_id} ${colorStatus(task.status, colors)}`;
  if (task.exit_code !== null) line += ` (exit code ${task.exit_code})`;
  if (task.error_message !== null && task.error_message !== "") line += `: ${task.error_message}`;
  return line;
}
