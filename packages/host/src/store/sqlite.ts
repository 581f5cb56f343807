/** Opens the SQLite database behind the store (better-sqlite3, one connection in the host process). */

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

import type { Logger } from "@kohakuriver/common";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect, type SqliteDatabase } from "kysely";

import type { Database } from "./database.js";
import { Int64ResultPlugin } from "./int64-plugin.js";

/** Milliseconds a statement waits for a lock held by another process before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens `dbFile`, creating it and its parent directory when missing. `:memory:` opens a private in-memory
 * database.
 */
export function openSqlite(dbFile: string, logger?: Logger): Kysely<Database> {
  const inMemory = dbFile === ":memory:";
  let database: BetterSqlite3.Database;

  try {
    if (!inMemory) mkdirSync(dirname(dbFile), { recursive: true });
    database = new BetterSqlite3(dbFile);
  } catch (error) {
    throw new Error(`Failed to open SQLite database ${dbFile}: ${(error as Error).message}`, { cause: error });
  }

  try {
    // Every INTEGER arrives as a bigint, so snowflake ids above 2^53 are never rounded. Int64ResultPlugin
    // turns them into strings and numbers afterwards.
    database.defaultSafeIntegers(true);
    // In WAL mode with synchronous=NORMAL a committed transaction survives a crash or SIGKILL of this
    // process. A power loss or OS crash can still roll back the last transactions but leaves the file
    // consistent (SQLite's documentation of PRAGMA synchronous).
    const journalMode = String(database.pragma("journal_mode = WAL", { simple: true }));
    database.pragma("synchronous = NORMAL");
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    database.pragma("foreign_keys = ON");

    if (!inMemory && journalMode.toLowerCase() !== "wal") {
      logger?.warn({ dbFile, journalMode }, "SQLite database is not in WAL mode");
    }
  } catch (error) {
    database.close();
    throw new Error(`Failed to configure SQLite database ${dbFile}: ${(error as Error).message}`, { cause: error });
  }

  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
    plugins: [new Int64ResultPlugin()],
  });
}

/** Prepared statements kept for reuse; queries with many distinct shapes (batch sizes) fall out first. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * Kysely prepares every query anew, and preparing costs more than running a small query. This keeps the
 * most recently used statements by SQL text and hands them out again.
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement !== undefined) {
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
