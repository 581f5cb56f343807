/**
 * Migration `0003_accounts_and_audit`: the original's account tables (users, sessions, tokens,
 * invitations, groups, VPS assignments) with its column names, so that its users and API tokens can be
 * copied over, plus the audit log, which is new.
 */

import { sql, type Kysely, type Migration } from "kysely";

import type { StoreDialect } from "./migrations.js";

export function createAccountsAndAudit(dialect: StoreDialect): Migration {
  const timestamp = dialect === "postgres" ? sql`text collate "C"` : "text";
  const int64 = dialect === "postgres" ? "bigint" : "integer";

  // SQLite's AUTOINCREMENT never reuses the id of a deleted row, the same guarantee PostgreSQL's serial
  // gives, so a deleted user's id cannot be handed to a new account that would inherit its tasks.
  const withId = (builder: ReturnType<Kysely<unknown>["schema"]["createTable"]>) =>
    dialect === "postgres"
      ? builder.addColumn("id", "serial", (column) => column.primaryKey())
      : builder.addColumn("id", "integer", (column) => column.primaryKey().autoIncrement());

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await withId(db.schema.createTable("groups"))
        .addColumn("name", "text", (column) => column.notNull().unique())
        .addColumn("tier", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("limits_json", "text", (column) => column.notNull().defaultTo("{}"))
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .execute();

      await withId(db.schema.createTable("users"))
        .addColumn("username", "text", (column) => column.notNull().unique())
        .addColumn("display_name", "text")
        .addColumn("password_hash", "text", (column) => column.notNull())
        .addColumn("is_active", "integer", (column) => column.notNull().defaultTo(1))
        .addColumn("role", "text", (column) => column.notNull().defaultTo("user"))
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .execute();

      await withId(db.schema.createTable("sessions"))
        .addColumn("session_id", "text", (column) => column.notNull().unique())
        .addColumn("user_id", "integer", (column) => column.notNull().references("users.id").onDelete("cascade"))
        .addColumn("expires_at", timestamp, (column) => column.notNull())
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .execute();

      await withId(db.schema.createTable("tokens"))
        .addColumn("user_id", "integer", (column) => column.notNull().references("users.id").onDelete("cascade"))
        .addColumn("token_hash", "text", (column) => column.notNull().unique())
        .addColumn("name", "text", (column) => column.notNull())
        .addColumn("last_used", timestamp)
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .execute();

      await withId(db.schema.createTable("invitations"))
        .addColumn("token", "text", (column) => column.notNull().unique())
        .addColumn("role", "text", (column) => column.notNull().defaultTo("user"))
        .addColumn("group_id", "integer", (column) => column.references("groups.id").onDelete("set null"))
        .addColumn("max_usage", "integer", (column) => column.notNull().defaultTo(1))
        .addColumn("usage_count", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("expires_at", timestamp, (column) => column.notNull())
        .addColumn("created_by_id", "integer", (column) => column.references("users.id").onDelete("set null"))
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .execute();

      await withId(db.schema.createTable("vps_assignments"))
        .addColumn("vps_task_id", int64, (column) => column.notNull())
        .addColumn("user_id", "integer", (column) => column.notNull().references("users.id").onDelete("cascade"))
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .addUniqueConstraint("vps_assignments_task_user_unique", ["vps_task_id", "user_id"])
        .execute();

      await withId(db.schema.createTable("audit_log"))
        .addColumn("created_at", timestamp, (column) => column.notNull())
        .addColumn("actor_id", "integer")
        .addColumn("actor_username", "text")
        .addColumn("action", "text", (column) => column.notNull())
        .addColumn("target", "text")
        .addColumn("success", "integer", (column) => column.notNull().defaultTo(1))
        .addColumn("ip", "text")
        .addColumn("detail", "text", (column) => column.notNull().defaultTo("{}"))
        .execute();

      await db.schema.createIndex("sessions_user_id_index").on("sessions").column("user_id").execute();
      await db.schema.createIndex("tokens_user_id_index").on("tokens").column("user_id").execute();
      await db.schema.createIndex("audit_log_created_at_index").on("audit_log").column("created_at").execute();
      await db.schema.createIndex("audit_log_action_index").on("audit_log").column("action").execute();
      await db.schema.createIndex("tasks_owner_id_index").on("tasks").column("owner_id").execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex("tasks_owner_id_index").execute();
      for (const table of ["audit_log", "vps_assignments", "invitations", "tokens", "sessions", "users", "groups"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
