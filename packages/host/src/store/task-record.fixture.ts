/** Task records for tests: a complete pending command task, with any field overridden. */

import type { TaskRecord } from "./types.js";

let nextTaskId = 7263012345678901248n;

/** Returns a new snowflake-sized task id, larger than every one returned before. */
export function newTaskId(): string {
  nextTaskId += 1n;
  return nextTaskId.toString();
}

export function makeTaskRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  const taskId = overrides.task_id ?? newTaskId();
  return {
    task_id: taskId,
    task_type: "command",
    batch_id: taskId,
    name: null,
    command: "echo",
    arguments: ["hello"],
    shell: false,
    env_vars: {},
    required_cores: 1,
    required_gpus: [],
    required_gpu_count: 0,
    required_memory_bytes: null,
    target_node: null,
    target_numa_node_id: null,
    owner_id: null,
    approval_status: null,
    approved_by_id: null,
    approved_at: null,
    rejection_reason: null,
    status: "pending",
    assigned_node: null,
    assignment_suspicion_count: 0,
    container_name: null,
    registry_image: null,
    docker_image_name: null,
    docker_privileged: false,
    docker_mount_dirs: [],
    ssh_port: null,
    vps_backend: "docker",
    vm_image: null,
    vm_disk_size: null,
    vm_ip: null,
    stdout_path: `/shared/logs/${taskId}/stdout.log`,
    stderr_path: `/shared/logs/${taskId}/stderr.log`,
    exit_code: null,
    error_message: null,
    submitted_at: "2026-01-31T12:00:00.000Z",
    started_at: null,
    completed_at: null,
    dispatch_confirmed: false,
    ssh_key_mode: null,
    ssh_public_key: null,
    generation: 0,
    vps_restore_snapshot: null,
    ...overrides,
  };
}
