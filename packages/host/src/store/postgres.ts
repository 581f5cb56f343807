/** Opens the PostgreSQL connection pool behind the store (pg). */

import type { Logger } from "@kohakuriver/common";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";

import type { Database } from "./database.js";
import { Int64ResultPlugin } from "./int64-plugin.js";

/** Connections the pool opens at most; the host's queries are short, so a few suffice. */
const POOL_SIZE = 10;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url);
}

/** Returns the parts of a connection URL that are safe to log (no user name or password). */
export function describePostgresUrl(url: string): { host: string; database: string } {
  try {
    const parsed = new URL(url);
    return { host: parsed.host, database: decodeURIComponent(parsed.pathname.replace(/^\//, "")) };
  } catch {
    return { host: "(unparsable URL)", database: "" };
  }
}

export function openPostgres(url: string, logger?: Logger): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });

  // pg emits this when an idle connection breaks (for example when the server restarts) and drops the
  // connection from the pool. Without a listener the event would crash the host.
  pool.on("error", (error) => {
    logger?.error({ err: error, ...describePostgresUrl(url) }, "idle PostgreSQL connection failed");
  });

  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new Int64ResultPlugin()] });
}
