/**
 * The host's store: tasks and nodes, behind one interface with one implementation over Kysely that runs
 * on SQLite (better-sqlite3, the default) and on PostgreSQL (pg) with the same code.
 *
 * Records use the column names of the original schema (snake_case), with JSON columns already parsed,
 * 64-bit ids as decimal strings and timestamps as ISO-8601 UTC strings.
 */

import type { GpuInfo, NumaTopology, SshKeyMode, TaskStatus } from "@kohakuriver/api";

import type { AuthStore } from "./auth-types.js";

export type TaskType = "command" | "vps";

export interface TaskRecord {
  task_id: string;
  task_type: TaskType;
  batch_id: string | null;
  name: string | null;
  command: string;
  arguments: string[];
  /** True: run through `/bin/sh -c`; false: `[command, ...arguments]` without a shell. */
  shell: boolean;
  env_vars: Record<string, string>;
  required_cores: number;
  required_gpus: number[];
  required_gpu_count: number;
  required_memory_bytes: number | null;
  /** Node named in the submission's target, or null for automatic placement. */
  target_node: string | null;
  target_numa_node_id: number | null;
  owner_id: number | null;
  approval_status: string | null;
  approved_by_id: number | null;
  approved_at: string | null;
  rejection_reason: string | null;
  status: TaskStatus;
  assigned_node: string | null;
  assignment_suspicion_count: number;
  /** Environment name (not the Docker container name), as in the original. */
  container_name: string | null;
  registry_image: string | null;
  docker_image_name: string | null;
  docker_privileged: boolean;
  docker_mount_dirs: string[];
  ssh_port: number | null;
  vps_backend: string;
  vm_image: string | null;
  vm_disk_size: string | null;
  vm_ip: string | null;
  stdout_path: string;
  stderr_path: string;
  exit_code: number | null;
  error_message: string | null;
  submitted_at: string;
  started_at: string | null;
  completed_at: string | null;
  /** True once the assigned runner acknowledged the dispatch of this task. */
  dispatch_confirmed: boolean;
  /** VPS only: how SSH is set up (disabled, none, upload, generate); null for command tasks. */
  ssh_key_mode: SshKeyMode | null;
  /** VPS only: the public key written to authorized_keys (uploaded or generated); never a private key. */
  ssh_public_key: string | null;
  /** Times the VPS was restarted; each restart is a new container and a new dispatch on the runner. */
  generation: number;
  /** VPS only: snapshot timestamp the next start restores, set by a restore request; null = the newest. */
  vps_restore_snapshot: number | null;
}

/**
 * Columns that may change after insertion. `required_gpus` is among them because a task that requests a
 * GPU count gets concrete GPU indices when it is placed.
 */
export type TaskMutableFields = Pick<
  TaskRecord,
  | "status"
  | "assigned_node"
  | "required_gpus"
  | "assignment_suspicion_count"
  | "approval_status"
  | "approved_by_id"
  | "approved_at"
  | "rejection_reason"
  | "ssh_port"
  | "vm_ip"
  | "exit_code"
  | "error_message"
  | "started_at"
  | "completed_at"
  | "dispatch_confirmed"
  | "target_node"
  | "generation"
  | "vps_restore_snapshot"
>;

export interface TaskFilter {
  /** Only tasks in one of these statuses; an empty list matches no task. */
  statuses?: readonly TaskStatus[];
  /** Only tasks assigned to this node. */
  node?: string;
  taskType?: TaskType;
  /** Only tasks submitted by this account. */
  ownerId?: number;
  /** Only tasks of this batch (the submission that created them). */
  batchId?: string;
  limit?: number;
  offset?: number;
  /** `newest`: submitted_at descending (listing); `oldest`: ascending (the queue). Ties break on task_id. */
  order?: "newest" | "oldest";
}

export interface TaskTransition {
  taskId: string;
  to: TaskStatus;
  /** The update applies only while the task's current status is one of these (a compare-and-set). */
  from: readonly TaskStatus[];
  fields?: Partial<Omit<TaskMutableFields, "status">>;
}

export type NodeStatus = "online" | "offline";

export interface NodeRecord {
  hostname: string;
  url: string;
  total_cores: number;
  memory_total_bytes: number | null;
  status: NodeStatus;
  last_heartbeat: string | null;
  cpu_percent: number | null;
  memory_percent: number | null;
  memory_used_bytes: number | null;
  current_avg_temp: number | null;
  current_max_temp: number | null;
  numa_topology: NumaTopology | null;
  gpu_info: GpuInfo[];
  vm_capable: boolean;
  vfio_gpus: unknown[];
  runner_version: string | null;
  registered_at: string;
}

export type NodeMutableFields = Omit<NodeRecord, "hostname" | "registered_at">;

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  /** Accounts, sessions, API tokens, invitations, VPS assignments and the audit log. */
  readonly auth: AuthStore;

  /** Creates or upgrades the schema; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /**
   * Inserts all tasks in one transaction: either every row is stored or none is. Throws ConflictError
   * when a task id already exists or appears twice in the batch.
   */
  insertTasks(tasks: readonly TaskRecord[]): Promise<void>;
  getTask(taskId: string): Promise<TaskRecord | undefined>;
  listTasks(filter?: TaskFilter): Promise<TaskRecord[]>;
  countTasks(filter?: Pick<TaskFilter, "statuses" | "node" | "taskType" | "batchId" | "ownerId">): Promise<number>;
  /** Applies one guarded status change; returns false when the task is missing or not in a `from` status. */
  transitionTask(transition: TaskTransition): Promise<boolean>;
  /** Applies several guarded status changes in one transaction; returns one flag per item, in order. */
  transitionTasks(transitions: readonly TaskTransition[]): Promise<boolean[]>;
  /** Updates columns other than `status` without a guard. */
  updateTask(taskId: string, fields: Partial<Omit<TaskMutableFields, "status">>): Promise<void>;

  /** Inserts or updates a node by hostname; returns whether it was new. `registered_at` is kept on update. */
  upsertNode(node: Omit<NodeRecord, "registered_at">): Promise<{ created: boolean }>;
  getNode(hostname: string): Promise<NodeRecord | undefined>;
  listNodes(): Promise<NodeRecord[]>;
  /** Updates several nodes in one transaction (heartbeat metrics are flushed this way in batches). */
  updateNodes(updates: ReadonlyArray<{ hostname: string; fields: Partial<NodeMutableFields> }>): Promise<void>;
}
