/**
 * A throwaway PostgreSQL server for tests: `initdb` into a fresh temporary directory, listening on a free
 * loopback port with its unix socket inside that directory, stopped and deleted by `stop()`.
 *
 * As root the server binaries run as the `postgres` user (PostgreSQL refuses to run as root); otherwise
 * they run as the current user. As root the temporary directory's parents must be searchable by
 * `postgres`, which holds for the usual /tmp.
 */

import { execFile, execFileSync } from "node:child_process";
import { appendFile, chmod, mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises";
import { accessSync, constants, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";

import pg from "pg";

const execFileAsync = promisify(execFile);

const COMMAND_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 3;

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
}

export interface PostgresTestServer {
  /** URL of the `postgres` database as the superuser `postgres`, with trust authentication. */
  url: string;
  /** Creates an empty database and returns its URL, so that each test can start from nothing. */
  createDatabase(): Promise<string>;
  /** Stops the server (immediate shutdown) and deletes its directory. Calling it twice is harmless. */
  stop(): Promise<void>;
}

/** Finds `initdb` and `pg_ctl` on PATH, then in /usr/lib/postgresql/<version>/bin (newest first). */
export async function findPostgresBinaries(): Promise<PostgresBinaries | undefined> {
  const directories = (process.env.PATH ?? "").split(delimiter).filter((directory) => directory !== "");
  const versions = await readdir("/usr/lib/postgresql").catch(() => [] as string[]);
  versions.sort((a, b) => Number(b) - Number(a));
  directories.push(...versions.map((version) => join("/usr/lib/postgresql", version, "bin")));

  for (const directory of directories) {
    const initdb = join(directory, "initdb");
    const pgCtl = join(directory, "pg_ctl");
    if (isExecutable(initdb) && isExecutable(pgCtl)) {
      // pg_ctl looks for the `postgres` binary beside its own real path, so symlinks are resolved.
      return { initdb: await realpath(initdb), pgCtl: await realpath(pgCtl) };
    }
  }
  return undefined;
}

export async function startPostgresTestServer(binaries: PostgresBinaries): Promise<PostgresTestServer> {
  const asRoot = process.getuid?.() === 0;
  const run = (file: string, args: string[]) =>
    asRoot
      ? execFileAsync("runuser", ["-u", "postgres", "--", file, ...args], { timeout: COMMAND_TIMEOUT_MS })
      : execFileAsync(file, args, { timeout: COMMAND_TIMEOUT_MS });

  const directory = await mkdtemp(join(tmpdir(), "kohakuriver-pg-"));
  const dataDirectory = join(directory, "data");
  const logFile = join(directory, "server.log");
  if (asRoot) {
    await execFileAsync("chown", ["postgres:postgres", directory]);
  }
  await chmod(directory, 0o700);

  let running = false;
  const stopSync = () => {
    if (running) {
      try {
        const args = ["stop", "-D", dataDirectory, "-m", "immediate", "-w"];
        if (asRoot)
          execFileSync("runuser", ["-u", "postgres", "--", binaries.pgCtl, ...args], {
            stdio: "ignore",
            timeout: COMMAND_TIMEOUT_MS,
          });
        else execFileSync(binaries.pgCtl, args, { stdio: "ignore", timeout: COMMAND_TIMEOUT_MS });
      } catch {
        // The server may already be gone; the directory is removed either way.
      }
      running = false;
    }
    rmSync(directory, { recursive: true, force: true });
  };
  // A test process that ends without calling stop() still leaves no server behind.
  process.once("exit", stopSync);

  try {
    await run(binaries.initdb, [
      "-D",
      dataDirectory,
      "-U",
      "postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--no-locale",
      "--no-sync",
    ]);

    let port = 0;
    for (let attempt = 1; ; attempt += 1) {
      port = await findFreePort();
      // Settings go into postgresql.conf (later lines win) rather than through `pg_ctl -o`, which passes
      // its options through a shell. fsync is off because this data is thrown away.
      await appendFile(
        join(dataDirectory, "postgresql.conf"),
        [
          "listen_addresses = '127.0.0.1'",
          `port = ${port}`,
          `unix_socket_directories = '${directory}'`,
          "fsync = off",
          "synchronous_commit = off",
          "full_page_writes = off",
          "",
        ].join("\n"),
      );
      try {
        await run(binaries.pgCtl, ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60"]);
        running = true;
        break;
      } catch (error) {
        // Another process may have taken the port between findFreePort() and the server's bind.
        if (attempt >= START_ATTEMPTS) throw error;
      }
    }

    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    let databases = 0;

    return {
      url,
      async createDatabase() {
        databases += 1;
        const name = `test_${process.pid}_${databases}`;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        process.removeListener("exit", stopSync);
        stopSync();
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    const serverLog = await readFile(logFile, "utf8").catch(() => "");
    process.removeListener("exit", stopSync);
    stopSync();
    const logTail = serverLog === "" ? "" : `\nserver log:\n${serverLog.slice(-2000)}`;
    throw new Error(`Failed to start a test PostgreSQL server: ${(error as Error).message}${logTail}`, {
      cause: error,
    });
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
