/** The store over Kysely: one implementation of `Store` for SQLite and PostgreSQL. */

import { ConflictError, InvalidInputError } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import { Migrator, type ExpressionBuilder, type Kysely } from "kysely";

import { KyselyAuthStore } from "./auth-store.js";
import type { AuthStore } from "./auth-types.js";
import type { Database } from "./database.js";
import { createMigrationProvider, type StoreDialect } from "./migrations.js";
import { fromNodeRow, pickNodeFields, toNodeRow, toNodeUpdate } from "./node-rows.js";
import { canonicalTaskId } from "./row-values.js";
import { encodeTaskStatus, fromTaskRow, toTaskRow, toTaskUpdate } from "./task-rows.js";
import type {
  NodeMutableFields,
  NodeRecord,
  Store,
  TaskFilter,
  TaskMutableFields,
  TaskRecord,
  TaskTransition,
} from "./types.js";

/**
 * Bound parameters per INSERT statement at most. SQLite allows 32,766 by default (since 3.32) and
 * PostgreSQL 65,535, so one limit below both serves the two dialects.
 */
const MAX_PARAMETERS_PER_STATEMENT = 30_000;

type TaskCountFilter = Pick<TaskFilter, "statuses" | "node" | "taskType" | "batchId" | "ownerId">;

export class KyselyStore implements Store {
  readonly auth: AuthStore;

  constructor(
    readonly dialect: StoreDialect,
    private readonly db: Kysely<Database>,
    private readonly logger?: Logger,
  ) {
    this.auth = new KyselyAuthStore(db);
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: createMigrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();

    for (const result of results ?? []) {
      if (result.status === "Success") {
        this.logger?.info({ migration: result.migrationName, dialect: this.dialect }, "database migration applied");
      } else if (result.status === "Error") {
        this.logger?.error({ migration: result.migrationName, dialect: this.dialect }, "database migration failed");
      }
    }
    if (error !== undefined) {
      throw new Error(`Database migration failed (${this.dialect}): ${String((error as Error).message ?? error)}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async insertTasks(tasks: readonly TaskRecord[]): Promise<void> {
    if (tasks.length === 0) return;
    const rows = tasks.map(toTaskRow);
    rejectRepeatedIds(rows.map((row) => row.task_id));

    const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMETERS_PER_STATEMENT / Object.keys(rows[0]!).length));
    try {
      if (rows.length <= rowsPerStatement) {
        // One statement is atomic by itself, so the common case saves the BEGIN and COMMIT round trips.
        await this.db.insertInto("tasks").values(rows).execute();
      } else {
        await this.db.transaction().execute(async (transaction) => {
          for (let start = 0; start < rows.length; start += rowsPerStatement) {
            await transaction
              .insertInto("tasks")
              .values(rows.slice(start, start + rowsPerStatement))
              .execute();
          }
        });
      }
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      throw await this.describeExistingTask(
        rows.map((row) => row.task_id),
        error,
      );
    }
  }

  async getTask(taskId: string): Promise<TaskRecord | undefined> {
    const id = canonicalTaskId(taskId);
    if (id === undefined) return undefined;

    const row = await this.db.selectFrom("tasks").selectAll().where("task_id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : fromTaskRow(row);
  }

  async listTasks(filter: TaskFilter = {}): Promise<TaskRecord[]> {
    if (matchesNoTask(filter)) return [];
    const limit = checkCount(filter.limit, "limit");
    const offset = checkCount(filter.offset, "offset");
    const direction = filter.order === "oldest" ? "asc" : "desc";

    let query = this.db
      .selectFrom("tasks")
      .selectAll()
      .where(taskFilterCondition(filter))
      .orderBy("submitted_at", direction)
      .orderBy("task_id", direction);
    if (limit !== undefined) query = query.limit(limit);
    if (offset !== undefined) {
      // SQLite accepts OFFSET only after a LIMIT.
      if (limit === undefined) query = query.limit(Number.MAX_SAFE_INTEGER);
      query = query.offset(offset);
    }

    const rows = await query.execute();
    return rows.map(fromTaskRow);
  }

  async countTasks(filter: TaskCountFilter = {}): Promise<number> {
    if (matchesNoTask(filter)) return 0;

    const row = await this.db
      .selectFrom("tasks")
      .select((eb) => eb.fn.countAll().as("count"))
      .where(taskFilterCondition(filter))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async transitionTask(transition: TaskTransition): Promise<boolean> {
    return applyTransition(this.db, transition);
  }

  async transitionTasks(transitions: readonly TaskTransition[]): Promise<boolean[]> {
    if (transitions.length === 0) return [];

    return this.db.transaction().execute(async (transaction) => {
      const applied: boolean[] = [];
      for (const transition of transitions) {
        applied.push(await applyTransition(transaction, transition));
      }
      return applied;
    });
  }

  async updateTask(taskId: string, fields: Partial<Omit<TaskMutableFields, "status">>): Promise<void> {
    const update = toTaskUpdate(fields);
    const id = canonicalTaskId(taskId);
    if (id === undefined || Object.keys(update).length === 0) return;

    await this.db.updateTable("tasks").set(update).where("task_id", "=", id).execute();
  }

  async upsertNode(node: Omit<NodeRecord, "registered_at">): Promise<{ created: boolean }> {
    const row = toNodeRow(node, new Date().toISOString());

    // INSERT … ON CONFLICT DO NOTHING returns the row only when it was inserted, which distinguishes a new
    // node from a known one without a race between a SELECT and the INSERT.
    const inserted = await this.db
      .insertInto("nodes")
      .values(row)
      .onConflict((conflict) => conflict.column("hostname").doNothing())
      .returning("hostname")
      .executeTakeFirst();
    if (inserted !== undefined) return { created: true };

    await this.db
      .updateTable("nodes")
      .set(toNodeUpdate(pickNodeFields(node)))
      .where("hostname", "=", node.hostname)
      .execute();
    return { created: false };
  }

  async getNode(hostname: string): Promise<NodeRecord | undefined> {
    const row = await this.db.selectFrom("nodes").selectAll().where("hostname", "=", hostname).executeTakeFirst();
    return row === undefined ? undefined : fromNodeRow(row);
  }

  async listNodes(): Promise<NodeRecord[]> {
    const rows = await this.db.selectFrom("nodes").selectAll().orderBy("hostname").execute();
    return rows.map(fromNodeRow);
  }

  async updateNodes(updates: ReadonlyArray<{ hostname: string; fields: Partial<NodeMutableFields> }>): Promise<void> {
    const statements = updates
      .map(({ hostname, fields }) => ({ hostname, update: toNodeUpdate(fields) }))
      .filter(({ update }) => Object.keys(update).length > 0);
    if (statements.length === 0) return;

    await this.db.transaction().execute(async (transaction) => {
      for (const { hostname, update } of statements) {
        await transaction.updateTable("nodes").set(update).where("hostname", "=", hostname).execute();
      }
    });
  }

  /** Builds the error for a unique violation, naming a task id of the batch that is already stored. */
  private async describeExistingTask(ids: readonly string[], cause: unknown): Promise<ConflictError> {
    const lookupSize = 500;
    for (let start = 0; start < ids.length; start += lookupSize) {
      const existing = await this.db
        .selectFrom("tasks")
        .select("task_id")
        .where("task_id", "in", ids.slice(start, start + lookupSize))
        .executeTakeFirst();
      if (existing !== undefined) return withCause(new ConflictError(`task ${existing.task_id} already exists`), cause);
    }
    return withCause(new ConflictError("a task id in the batch already exists"), cause);
  }
}

/** Applies one guarded UPDATE, a compare-and-set because the WHERE clause checks the current status. */
async function applyTransition(db: Kysely<Database>, transition: TaskTransition): Promise<boolean> {
  const update = { ...toTaskUpdate(transition.fields ?? {}), status: encodeTaskStatus(transition.to) };
  const id = canonicalTaskId(transition.taskId);
  if (id === undefined || transition.from.length === 0) return false;

  const result = await db
    .updateTable("tasks")
    .set(update)
    .where("task_id", "=", id)
    .where("status", "in", [...transition.from])
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

function taskFilterCondition(filter: TaskCountFilter) {
  return (eb: ExpressionBuilder<Database, "tasks">) => {
    const conditions = [];
    if (filter.statuses !== undefined) conditions.push(eb("status", "in", [...filter.statuses]));
    if (filter.node !== undefined) conditions.push(eb("assigned_node", "=", filter.node));
    if (filter.taskType !== undefined) conditions.push(eb("task_type", "=", filter.taskType));
    if (filter.ownerId !== undefined) conditions.push(eb("owner_id", "=", filter.ownerId));
    if (filter.batchId !== undefined)
      conditions.push(eb("batch_id", "=", canonicalTaskId(filter.batchId) ?? filter.batchId));
    return eb.and(conditions);
  };
}

/** True when the filter cannot match: an empty status list, or a batch id that no task can have. */
function matchesNoTask(filter: TaskCountFilter): boolean {
  if (filter.statuses?.length === 0) return true;
  return filter.batchId !== undefined && canonicalTaskId(filter.batchId) === undefined;
}

function checkCount(value: number | undefined, name: "limit" | "offset"): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(`invalid ${name} ${value}: expected a whole number of 0 or more`, name);
  }
  return value;
}

function rejectRepeatedIds(ids: readonly string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new ConflictError(`task ${id} appears more than once in the batch`);
    seen.add(id);
  }
}

/** True for a primary-key or unique violation: PostgreSQL SQLSTATE 23505 or better-sqlite3's constraint codes. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

function withCause<T extends Error>(error: T, cause: unknown): T {
  Object.defineProperty(error, "cause", { value: cause, configurable: true, writable: true });
  return error;
}
