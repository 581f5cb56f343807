/** Mapping between task records and rows of the `tasks` table. */

import { InvalidInputError, SSH_KEY_MODES, isTaskStatus, type SshKeyMode, type TaskStatus } from "@kohakuriver/api";
import type { Insertable, Selectable, Updateable } from "kysely";

import type { TasksTable } from "./database.js";
import {
  decodeBoolean,
  decodeInt64Number,
  decodeJson,
  encodeBoolean,
  encodeJson,
  encodeNullableTaskId,
  encodeNullableTimestamp,
  encodeTaskId,
  encodeTimestamp,
} from "./row-values.js";
import type { TaskMutableFields, TaskRecord, TaskType } from "./types.js";

type TaskUpdateFields = Partial<Omit<TaskMutableFields, "status">>;

/**
 * Columns that `toTaskUpdate` accepts. `status` is not among them because it changes only through a
 * guarded transition. A record type makes the compiler report a mutable field that is missing here.
 */
const UPDATABLE_COLUMNS: ReadonlySet<string> = new Set(
  Object.keys({
    assigned_node: true,
    required_gpus: true,
    assignment_suspicion_count: true,
    approval_status: true,
    approved_by_id: true,
    approved_at: true,
    rejection_reason: true,
    ssh_port: true,
    vm_ip: true,
    exit_code: true,
    error_message: true,
    started_at: true,
    completed_at: true,
    dispatch_confirmed: true,
    target_node: true,
    generation: true,
    vps_restore_snapshot: true,
  } satisfies Record<keyof TaskUpdateFields, true>),
);

const TIMESTAMP_COLUMNS: ReadonlySet<string> = new Set(["approved_at", "started_at", "completed_at"]);

export function encodeTaskStatus(status: string): TaskStatus {
  if (!isTaskStatus(status)) throw new InvalidInputError(`invalid task status "${status}"`, "status");
  return status;
}

function encodeTaskType(value: string): TaskType {
  if (value === "command" || value === "vps") return value;
  throw new InvalidInputError(`invalid task_type "${value}": expected "command" or "vps"`, "task_type");
}

export function toTaskRow(task: TaskRecord): Insertable<TasksTable> {
  return {
    task_id: encodeTaskId(task.task_id, "task_id"),
    task_type: encodeTaskType(task.task_type),
    batch_id: encodeNullableTaskId(task.batch_id, "batch_id"),
    name: task.name,
    command: task.command,
    arguments: encodeJson(task.arguments),
    shell: encodeBoolean(task.shell),
    env_vars: encodeJson(task.env_vars),
    required_cores: task.required_cores,
    required_gpus: encodeJson(task.required_gpus),
    required_gpu_count: task.required_gpu_count,
    required_memory_bytes: task.required_memory_bytes,
    target_node: task.target_node,
    target_numa_node_id: task.target_numa_node_id,
    owner_id: task.owner_id,
    approval_status: task.approval_status,
    approved_by_id: task.approved_by_id,
    approved_at: encodeNullableTimestamp(task.approved_at, "approved_at"),
    rejection_reason: task.rejection_reason,
    status: encodeTaskStatus(task.status),
    assigned_node: task.assigned_node,
    assignment_suspicion_count: task.assignment_suspicion_count,
    container_name: task.container_name,
    registry_image: task.registry_image,
    docker_image_name: task.docker_image_name,
    docker_privileged: encodeBoolean(task.docker_privileged),
    docker_mount_dirs: encodeJson(task.docker_mount_dirs),
    ssh_port: task.ssh_port,
    vps_backend: task.vps_backend,
    vm_image: task.vm_image,
    vm_disk_size: task.vm_disk_size,
    vm_ip: task.vm_ip,
    stdout_path: task.stdout_path,
    stderr_path: task.stderr_path,
    exit_code: task.exit_code,
    error_message: task.error_message,
    submitted_at: encodeTimestamp(task.submitted_at, "submitted_at"),
    started_at: encodeNullableTimestamp(task.started_at, "started_at"),
    completed_at: encodeNullableTimestamp(task.completed_at, "completed_at"),
    dispatch_confirmed: encodeBoolean(task.dispatch_confirmed),
    ssh_key_mode: task.ssh_key_mode,
    ssh_public_key: task.ssh_public_key,
    generation: task.generation,
    vps_restore_snapshot: task.vps_restore_snapshot,
  };
}

/** Encodes the columns of an update. Undefined fields are left out, and `status` is rejected. */
export function toTaskUpdate(fields: TaskUpdateFields): Updateable<TasksTable> {
  const update: Record<string, unknown> = {};

  for (const [column, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (!UPDATABLE_COLUMNS.has(column)) {
      throw new TypeError(`Task column ${column} cannot be updated here; status changes go through transitionTask`);
    }

    if (TIMESTAMP_COLUMNS.has(column)) {
      update[column] = encodeNullableTimestamp(value as string | null, column);
    } else if (column === "required_gpus") {
      update[column] = encodeJson(value);
    } else if (column === "dispatch_confirmed") {
      update[column] = encodeBoolean(value as boolean);
    } else {
      update[column] = value;
    }
  }

  return update as Updateable<TasksTable>;
}

export function fromTaskRow(row: Selectable<TasksTable>): TaskRecord {
  const context = (column: string) => `tasks.${column} of task ${row.task_id}`;

  return {
    task_id: row.task_id,
    task_type: decodeTaskType(row.task_type, row.task_id),
    batch_id: row.batch_id,
    name: row.name,
    command: row.command,
    arguments: decodeJson<string[]>(row.arguments, [], context("arguments")),
    shell: decodeBoolean(row.shell),
    env_vars: decodeJson<Record<string, string>>(row.env_vars, {}, context("env_vars")),
    required_cores: row.required_cores,
    required_gpus: decodeJson<number[]>(row.required_gpus, [], context("required_gpus")),
    required_gpu_count: row.required_gpu_count,
    required_memory_bytes: decodeInt64Number(row.required_memory_bytes),
    target_node: row.target_node,
    target_numa_node_id: row.target_numa_node_id,
    owner_id: row.owner_id,
    approval_status: row.approval_status,
    approved_by_id: row.approved_by_id,
    approved_at: row.approved_at,
    rejection_reason: row.rejection_reason,
    status: decodeTaskStatus(row.status, row.task_id),
    assigned_node: row.assigned_node,
    assignment_suspicion_count: row.assignment_suspicion_count,
    container_name: row.container_name,
    registry_image: row.registry_image,
    docker_image_name: row.docker_image_name,
    docker_privileged: decodeBoolean(row.docker_privileged),
    docker_mount_dirs: decodeJson<string[]>(row.docker_mount_dirs, [], context("docker_mount_dirs")),
    ssh_port: row.ssh_port,
    vps_backend: row.vps_backend,
    vm_image: row.vm_image,
    vm_disk_size: row.vm_disk_size,
    vm_ip: row.vm_ip,
    stdout_path: row.stdout_path,
    stderr_path: row.stderr_path,
    exit_code: row.exit_code,
    error_message: row.error_message,
    submitted_at: row.submitted_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
    dispatch_confirmed: decodeBoolean(row.dispatch_confirmed),
    ssh_key_mode: decodeSshKeyMode(row.ssh_key_mode, row.task_id),
    ssh_public_key: row.ssh_public_key,
    generation: row.generation,
    vps_restore_snapshot: decodeInt64Number(row.vps_restore_snapshot),
  };
}

function decodeTaskType(value: string, taskId: string): TaskType {
  if (value === "command" || value === "vps") return value;
  throw new Error(`Task ${taskId} has unknown task_type "${value}" in the database`);
}

function decodeSshKeyMode(value: string | null, taskId: string): SshKeyMode | null {
  if (value === null || (SSH_KEY_MODES as readonly string[]).includes(value)) return value as SshKeyMode | null;
  throw new Error(`Task ${taskId} has unknown ssh_key_mode "${value}" in the database`);
}

function decodeTaskStatus(value: string, taskId: string): TaskStatus {
  if (isTaskStatus(value)) return value;
  throw new Error(`Task ${taskId} has unknown status "${value}" in the database`);
}
