/**
 * Kysely table types: the rows as the database stores them, before `task-rows.ts` and `node-rows.ts`
 * turn them into records.
 *
 * Both dialects store JSON as text, timestamps as ISO-8601 UTC text and booleans as integer 0/1, so the
 * same queries and the same row mapping serve SQLite and PostgreSQL.
 */

import type { ColumnType } from "kysely";

/** A task or batch id: bigint in the database, always a decimal string in JavaScript (see `int64-plugin.ts`). */
type Int64Id = string;

/** A bigint column that is not an id (byte counts): pg returns int8 as a string, so rows accept both. */
type Int64Number = ColumnType<number | string | null, number | null, number | null>;

/** 0 or 1. */
type BooleanInteger = number;

/** JSON text. */
type JsonText = string;

export interface TasksTable {
  task_id: Int64Id;
  task_type: string;
  batch_id: Int64Id | null;
  name: string | null;
  command: string;
  arguments: JsonText;
  shell: BooleanInteger;
  env_vars: JsonText;
  required_cores: number;
  required_gpus: JsonText;
  required_gpu_count: number;
  required_memory_bytes: Int64Number;
  target_node: string | null;
  target_numa_node_id: number | null;
  owner_id: number | null;
  approval_status: string | null;
  approved_by_id: number | null;
  approved_at: string | null;
  rejection_reason: string | null;
  status: string;
  assigned_node: string | null;
  assignment_suspicion_count: number;
  container_name: string | null;
  registry_image: string | null;
  docker_image_name: string | null;
  docker_privileged: BooleanInteger;
  docker_mount_dirs: JsonText | null;
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
  dispatch_confirmed: BooleanInteger;
  ssh_key_mode: string | null;
  ssh_public_key: string | null;
  generation: number;
  vps_restore_snapshot: Int64Number;
}

export interface NodesTable {
  hostname: string;
  url: string;
  total_cores: number;
  memory_total_bytes: Int64Number;
  status: string;
  last_heartbeat: string | null;
  cpu_percent: number | null;
  memory_percent: number | null;
  memory_used_bytes: Int64Number;
  current_avg_temp: number | null;
  current_max_temp: number | null;
  numa_topology: JsonText | null;
  gpu_info: JsonText | null;
  vm_capable: BooleanInteger;
  vfio_gpus: JsonText | null;
  runner_version: string | null;
  registered_at: string;
}

type Generated<T> = ColumnType<T, T | undefined, T>;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  display_name: string | null;
  password_hash: string;
  is_active: BooleanInteger;
  role: string;
  created_at: string;
}

export interface SessionsTable {
  id: Generated<number>;
  session_id: string;
  user_id: number;
  expires_at: string;
  created_at: string;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  /** SHA3-512 of the token, as 128 lowercase hex digits. */
  token_hash: string;
  name: string;
  last_used: string | null;
  created_at: string;
}

export interface InvitationsTable {
  id: Generated<number>;
  token: string;
  role: string;
  group_id: number | null;
  max_usage: number;
  usage_count: number;
  expires_at: string;
  created_by_id: number | null;
  created_at: string;
}

export interface GroupsTable {
  id: Generated<number>;
  name: string;
  tier: number;
  limits_json: JsonText;
  created_at: string;
}

export interface VpsAssignmentsTable {
  id: Generated<number>;
  vps_task_id: Int64Id;
  user_id: number;
  created_at: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  created_at: string;
  actor_id: number | null;
  actor_username: string | null;
  action: string;
  target: string | null;
  success: BooleanInteger;
  ip: string | null;
  detail: JsonText;
}

export interface Database {
  tasks: TasksTable;
  nodes: NodesTable;
  users: UsersTable;
  sessions: SessionsTable;
  tokens: TokensTable;
  invitations: InvitationsTable;
  groups: GroupsTable;
  vps_assignments: VpsAssignmentsTable;
  audit_log: AuditLogTable;
}

/** Columns holding 64-bit ids, which must reach JavaScript as exact decimal strings. */
export const ID_COLUMNS: ReadonlySet<string> = new Set(["task_id", "batch_id", "vps_task_id"]);
