/** The account tables over Kysely, for SQLite and PostgreSQL alike. */

import { ConflictError } from "@kohakuriver/api";
import type { Kysely, Selectable } from "kysely";

import type {
  AuditFilter,
  AuditRecord,
  AuthStore,
  InvitationRecord,
  NewAuditRecord,
  NewInvitation,
  NewUser,
  SessionRecord,
  TokenRecord,
  UserRecord,
  UserUpdate,
  VpsAssignmentRecord,
} from "./auth-types.js";
import type { AuditLogTable, Database, UsersTable } from "./database.js";
import {
  canonicalTaskId,
  decodeBoolean,
  decodeJson,
  encodeBoolean,
  encodeJson,
  encodeTimestamp,
} from "./row-values.js";

export class KyselyAuthStore implements AuthStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createUser(user: NewUser): Promise<UserRecord> {
    return insertUser(this.db, user);
  }

  async createUserWithInvitation(user: NewUser, invitationId: number, now: string): Promise<UserRecord> {
    return this.db.transaction().execute(async (transaction) => {
      // A guarded increment: two registrations racing for the last use cannot both succeed.
      const used = await transaction
        .updateTable("invitations")
        .set((eb) => ({ usage_count: eb("usage_count", "+", 1) }))
        .where("id", "=", invitationId)
        .where((eb) => eb("usage_count", "<", eb.ref("max_usage")))
        .where("expires_at", ">", encodeTimestamp(now, "now"))
        .executeTakeFirst();
      if (used.numUpdatedRows === 0n) throw new ConflictError("the invitation is used up or expired");
      return insertUser(transaction, user);
    });
  }

  async getUser(id: number): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : fromUserRow(row);
  }

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
    return row === undefined ? undefined : fromUserRow(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom("users").selectAll().orderBy("id", "desc").execute();
    return rows.map(fromUserRow);
  }

  async updateUser(id: number, update: UserUpdate): Promise<UserRecord | undefined> {
    const values: Record<string, unknown> = {};
    if (update.display_name !== undefined) values.display_name = update.display_name;
    if (update.role !== undefined) values.role = update.role;
    if (update.password_hash !== undefined) values.password_hash = update.password_hash;
    if (update.is_active !== undefined) values.is_active = encodeBoolean(update.is_active);
    if (Object.keys(values).length > 0) {
      await this.db.updateTable("users").set(values).where("id", "=", id).execute();
    }
    return this.getUser(id);
  }

  async deleteUser(id: number): Promise<boolean> {
    // Dependent rows are deleted explicitly as well, so the result does not depend on whether the
    // database enforces the foreign keys' ON DELETE CASCADE.
    return this.db.transaction().execute(async (transaction) => {
      await transaction.deleteFrom("sessions").where("user_id", "=", id).execute();
      await transaction.deleteFrom("tokens").where("user_id", "=", id).execute();
      await transaction.deleteFrom("vps_assignments").where("user_id", "=", id).execute();
      await transaction
        .updateTable("invitations")
        .set({ created_by_id: null })
        .where("created_by_id", "=", id)
        .execute();
      const result = await transaction.deleteFrom("users").where("id", "=", id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  async createSession(session: Omit<SessionRecord, "id">): Promise<void> {
    await this.db
      .insertInto("sessions")
      .values({
        session_id: session.session_id,
        user_id: session.user_id,
        expires_at: encodeTimestamp(session.expires_at, "expires_at"),
        created_at: encodeTimestamp(session.created_at, "created_at"),
      })
      .execute();
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    return this.db.selectFrom("sessions").selectAll().where("session_id", "=", sessionId).executeTakeFirst();
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("session_id", "=", sessionId).execute();
  }

  async deleteExpiredSessions(now: string): Promise<number> {
    const result = await this.db
      .deleteFrom("sessions")
      .where("expires_at", "<=", encodeTimestamp(now, "now"))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async createToken(token: Omit<TokenRecord, "id" | "last_used">): Promise<TokenRecord> {
    const created_at = encodeTimestamp(token.created_at, "created_at");
    try {
      const row = await this.db
        .insertInto("tokens")
        .values({ user_id: token.user_id, token_hash: token.token_hash, name: token.name, created_at })
        .returningAll()
        .executeTakeFirstOrThrow();
      return row;
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError("a token with this hash already exists");
      throw error;
    }
  }

  async getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    return this.db.selectFrom("tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
  }

  async listTokens(userId: number): Promise<TokenRecord[]> {
    return this.db.selectFrom("tokens").selectAll().where("user_id", "=", userId).orderBy("id", "desc").execute();
  }

  async deleteToken(id: number, userId: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom("tokens")
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchToken(id: number, lastUsed: string): Promise<void> {
    await this.db
      .updateTable("tokens")
      .set({ last_used: encodeTimestamp(lastUsed, "last_used") })
      .where("id", "=", id)
      .execute();
  }

  async createInvitation(invitation: NewInvitation): Promise<InvitationRecord> {
    return this.db
      .insertInto("invitations")
      .values({
        ...invitation,
        expires_at: encodeTimestamp(invitation.expires_at, "expires_at"),
        usage_count: 0,
        created_at: new Date().toISOString(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async getInvitationByToken(token: string): Promise<InvitationRecord | undefined> {
    return this.db.selectFrom("invitations").selectAll().where("token", "=", token).executeTakeFirst();
  }

  async listInvitations(): Promise<InvitationRecord[]> {
    return this.db.selectFrom("invitations").selectAll().orderBy("id", "desc").execute();
  }

  async deleteInvitation(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom("invitations").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async groupExists(id: number): Promise<boolean> {
    const row = await this.db.selectFrom("groups").select("id").where("id", "=", id).executeTakeFirst();
    return row !== undefined;
  }

  async assignVps(taskId: string, userIds: readonly number[], now: string): Promise<void> {
    const vps_task_id = requireTaskId(taskId);
    const created_at = encodeTimestamp(now, "now");
    if (userIds.length === 0) return;
    await this.db
      .insertInto("vps_assignments")
      .values([...new Set(userIds)].map((user_id) => ({ vps_task_id, user_id, created_at })))
      .onConflict((conflict) => conflict.columns(["vps_task_id", "user_id"]).doNothing())
      .execute();
  }

  async unassignVps(taskId: string, userId: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom("vps_assignments")
      .where("vps_task_id", "=", requireTaskId(taskId))
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listVpsAssignments(taskId: string): Promise<VpsAssignmentRecord[]> {
    return this.db
      .selectFrom("vps_assignments")
      .innerJoin("users", "users.id", "vps_assignments.user_id")
      .select([
        "vps_assignments.vps_task_id",
        "vps_assignments.user_id",
        "users.username",
        "users.display_name",
        "vps_assignments.created_at",
      ])
      .where("vps_assignments.vps_task_id", "=", requireTaskId(taskId))
      .orderBy("vps_assignments.id")
      .execute();
  }

  async isAssignedToVps(taskId: string, userId: number): Promise<boolean> {
    const id = canonicalTaskId(taskId);
    if (id === undefined) return false;
    const row = await this.db
      .selectFrom("vps_assignments")
      .select("id")
      .where("vps_task_id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async appendAudit(entry: NewAuditRecord): Promise<void> {
    await this.db
      .insertInto("audit_log")
      .values({
        created_at: encodeTimestamp(entry.created_at ?? new Date().toISOString(), "created_at"),
        actor_id: entry.actor_id,
        actor_username: entry.actor_username,
        action: entry.action,
        target: entry.target,
        success: encodeBoolean(entry.success),
        ip: entry.ip,
        detail: encodeJson(entry.detail),
      })
      .execute();
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    let query = this.db.selectFrom("audit_log").selectAll();
    if (filter.action !== undefined) query = query.where("action", "=", filter.action);
    if (filter.actorUsername !== undefined) query = query.where("actor_username", "=", filter.actorUsername);
    if (filter.target !== undefined) query = query.where("target", "=", filter.target);
    if (filter.success !== undefined) query = query.where("success", "=", encodeBoolean(filter.success));
    if (filter.since !== undefined) query = query.where("created_at", ">=", encodeTimestamp(filter.since, "since"));
    if (filter.until !== undefined) query = query.where("created_at", "<", encodeTimestamp(filter.until, "until"));
    const rows = await query
      .orderBy("id", "desc")
      .limit(filter.limit ?? 100)
      .offset(filter.offset ?? 0)
      .execute();
    return rows.map(fromAuditRow);
  }
}

async function insertUser(db: Kysely<Database>, user: NewUser): Promise<UserRecord> {
  try {
    const row = await db
      .insertInto("users")
      .values({
        username: user.username,
        display_name: user.display_name,
        password_hash: user.password_hash,
        is_active: encodeBoolean(user.is_active),
        role: user.role,
        created_at: new Date().toISOString(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return fromUserRow(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`username ${user.username} is already taken`);
    throw error;
  }
}

function fromUserRow(row: Selectable<UsersTable>): UserRecord {
  return { ...row, is_active: decodeBoolean(row.is_active) };
}

function fromAuditRow(row: Selectable<AuditLogTable>): AuditRecord {
  return {
    ...row,
    success: decodeBoolean(row.success),
    detail: decodeJson<Record<string, unknown>>(row.detail, {}, `audit_log.detail of entry ${row.id}`),
  };
}

function requireTaskId(taskId: string): string {
  const id = canonicalTaskId(taskId);
  if (id === undefined) throw new TypeError(`invalid task id ${taskId}`);
  return id;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
