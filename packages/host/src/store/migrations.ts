/**
 * Schema migrations, kept in code so that a bundled or installed host never reads migration files at
 * runtime. Kysely's Migrator applies them in name order and records them in `kysely_migration`.
 *
 * A migration, once released, never changes: a later change to the schema is a new entry.
 */

import { createAccountsAndAudit } from "./auth-migration.js";
import { sql, type Kysely, type Migration, type MigrationProvider, type RawBuilder } from "kysely";

export type StoreDialect = "sqlite" | "postgres";

interface ColumnTypes {
  /** 64-bit integer. In SQLite, `integer` also makes the `task_id` primary key an alias of the rowid. */
  int64: "integer" | "bigint";
  /**
   * ISO-8601 UTC text. PostgreSQL compares it with the "C" collation so that ordering is byte order, the
   * same as SQLite's default, whatever locale the cluster was initialised with.
   */
  timestamp: "text" | RawBuilder<unknown>;
}

function columnTypes(dialect: StoreDialect): ColumnTypes {
  if (dialect === "postgres") return { int64: "bigint", timestamp: sql`text collate "C"` };
  return { int64: "integer", timestamp: "text" };
}

function createTasksAndNodes(dialect: StoreDialect): Migration {
  const types = columnTypes(dialect);

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("nodes")
        .addColumn("hostname", "text", (column) => column.primaryKey())
        .addColumn("url", "text", (column) => column.notNull())
        .addColumn("total_cores", "integer", (column) => column.notNull())
        .addColumn("memory_total_bytes", types.int64)
        .addColumn("status", "text", (column) => column.notNull().defaultTo("online"))
        .addColumn("last_heartbeat", types.timestamp)
        .addColumn("cpu_percent", "double precision")
        .addColumn("memory_percent", "double precision")
        .addColumn("memory_used_bytes", types.int64)
        .addColumn("current_avg_temp", "double precision")
        .addColumn("current_max_temp", "double precision")
        .addColumn("numa_topology", "text")
        .addColumn("gpu_info", "text")
        .addColumn("vm_capable", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("vfio_gpus", "text")
        .addColumn("runner_version", "text")
        .addColumn("registered_at", types.timestamp, (column) => column.notNull())
        .execute();

      await db.schema
        .createTable("tasks")
        .addColumn("task_id", types.int64, (column) => column.primaryKey())
        .addColumn("task_type", "text", (column) => column.notNull().defaultTo("command"))
        .addColumn("batch_id", types.int64)
        .addColumn("name", "text")
        .addColumn("command", "text", (column) => column.notNull())
        .addColumn("arguments", "text", (column) => column.notNull().defaultTo("[]"))
        .addColumn("shell", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("env_vars", "text", (column) => column.notNull().defaultTo("{}"))
        .addColumn("required_cores", "integer", (column) => column.notNull().defaultTo(1))
        .addColumn("required_gpus", "text", (column) => column.notNull().defaultTo("[]"))
        .addColumn("required_gpu_count", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("required_memory_bytes", types.int64)
        .addColumn("target_node", "text")
        .addColumn("target_numa_node_id", "integer")
        .addColumn("owner_id", "integer")
        .addColumn("approval_status", "text")
        .addColumn("approved_by_id", "integer")
        .addColumn("approved_at", types.timestamp)
        .addColumn("rejection_reason", "text")
        .addColumn("status", "text", (column) => column.notNull().defaultTo("pending"))
        .addColumn("assigned_node", "text")
        .addColumn("assignment_suspicion_count", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("container_name", "text")
        .addColumn("registry_image", "text")
        .addColumn("docker_image_name", "text")
        .addColumn("docker_privileged", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("docker_mount_dirs", "text")
        .addColumn("ssh_port", "integer")
        .addColumn("vps_backend", "text", (column) => column.notNull().defaultTo("docker"))
        .addColumn("vm_image", "text")
        .addColumn("vm_disk_size", "text")
        .addColumn("vm_ip", "text")
        .addColumn("stdout_path", "text", (column) => column.notNull().defaultTo(""))
        .addColumn("stderr_path", "text", (column) => column.notNull().defaultTo(""))
        .addColumn("exit_code", "integer")
        .addColumn("error_message", "text")
        .addColumn("submitted_at", types.timestamp, (column) => column.notNull())
        .addColumn("started_at", types.timestamp)
        .addColumn("completed_at", types.timestamp)
        .addColumn("dispatch_confirmed", "integer", (column) => column.notNull().defaultTo(0))
        .execute();

      await db.schema.createIndex("tasks_status_index").on("tasks").column("status").execute();
      await db.schema.createIndex("tasks_assigned_node_index").on("tasks").column("assigned_node").execute();
      await db.schema.createIndex("tasks_batch_id_index").on("tasks").column("batch_id").execute();
      await db.schema
        .createIndex("tasks_submitted_at_task_id_index")
        .on("tasks")
        .columns(["submitted_at", "task_id"])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable("tasks").execute();
      await db.schema.dropTable("nodes").execute();
    },
  };
}

/**
 * Adds what a VPS needs to keep across restarts: its SSH key mode and public key, a restart count, and
 * the snapshot that its next start restores.
 */
function addVpsSessionColumns(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("tasks").addColumn("ssh_key_mode", "text").execute();
      await db.schema.alterTable("tasks").addColumn("ssh_public_key", "text").execute();
      await db.schema
        .alterTable("tasks")
        .addColumn("generation", "integer", (column) => column.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("tasks").addColumn("vps_restore_snapshot", "bigint").execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("tasks").dropColumn("vps_restore_snapshot").execute();
      await db.schema.alterTable("tasks").dropColumn("generation").execute();
      await db.schema.alterTable("tasks").dropColumn("ssh_public_key").execute();
      await db.schema.alterTable("tasks").dropColumn("ssh_key_mode").execute();
    },
  };
}

/** Returns the migration provider for a dialect; column types differ slightly between the two. */
export function createMigrationProvider(dialect: StoreDialect): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        "0001_create_tasks_and_nodes": createTasksAndNodes(dialect),
        "0002_vps_sessions": addVpsSessionColumns(),
        "0003_accounts_and_audit": createAccountsAndAudit(dialect),
      };
    },
  };
}
