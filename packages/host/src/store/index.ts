/** The host's store: `createStore` opens SQLite or PostgreSQL behind the `Store` interface. */

import type { Logger } from "@kohakuriver/common";

import { KyselyStore } from "./kysely-store.js";
import { describePostgresUrl, isPostgresUrl, openPostgres } from "./postgres.js";
import { openSqlite } from "./sqlite.js";
import type { Store } from "./types.js";

export type * from "./types.js";
export type * from "./auth-types.js";
export type { StoreDialect } from "./migrations.js";

export interface CreateStoreOptions {
  /** SQLite database file, used when `databaseUrl` is empty. `:memory:` opens a private in-memory database. */
  dbFile?: string;
  /** A `postgres://` or `postgresql://` URL selects PostgreSQL. Empty or absent selects SQLite. */
  databaseUrl?: string;
  logger?: Logger;
}

/**
 * Opens the store. Call `migrate()` on the result before the first query. A PostgreSQL pool connects
 * lazily, so an unreachable server shows up as an error from `migrate()`.
 */
export async function createStore(options: CreateStoreOptions): Promise<Store> {
  const databaseUrl = options.databaseUrl ?? "";
  const logger = options.logger?.child({ component: "store" });

  if (isPostgresUrl(databaseUrl)) {
    logger?.info({ dialect: "postgres", ...describePostgresUrl(databaseUrl) }, "store opened");
    return new KyselyStore("postgres", openPostgres(databaseUrl, logger), logger);
  }
  if (databaseUrl !== "") {
    // Only the scheme is shown, because the rest of the URL may contain a password.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(databaseUrl)?.[0] ?? "(no scheme)";
    throw new Error(
      `Unsupported DATABASE_URL scheme ${scheme}: use postgres:// or postgresql://, or leave it empty for SQLite`,
    );
  }
  if (options.dbFile === undefined || options.dbFile === "") {
    throw new Error("No database configured: set DB_FILE for SQLite or DATABASE_URL for PostgreSQL");
  }

  const store = new KyselyStore("sqlite", openSqlite(options.dbFile, logger), logger);
  logger?.info({ dialect: "sqlite", dbFile: options.dbFile }, "store opened");
  return store;
}
