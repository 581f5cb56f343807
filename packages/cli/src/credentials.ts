/**
 * The CLI's stored credentials: `auth.json` in KOHAKURIVER_HOME (default ~/.kohakuriver), readable only
 * by its owner (mode 0600). The fields are the original CLI's (`token`, `token_id`, `token_name`,
 * `username`, `role`) plus `url`, the host the token belongs to.
 */

import { chmodSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

import { kohakuriverHome, writeFileAtomic } from "@kohakuriver/common";

import { CliError } from "./errors.js";

export interface StoredCredentials {
  token: string;
  token_id: number | null;
  token_name: string | null;
  username: string | null;
  role: string | null;
  /** Base URL of the host that issued the token. Files written by the original CLI have none. */
  url?: string;
}

export function credentialsFile(env: Record<string, string | undefined>): string {
  return join(kohakuriverHome(env), "auth.json");
}

/** Reads auth.json; returns undefined when it does not exist. */
export function readCredentials(env: Record<string, string | undefined>): StoredCredentials | undefined {
  const file = credentialsFile(env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON; delete it and log in again with 'kohakuriver auth login'`);
  }
  const record = parsed as Partial<StoredCredentials> | null;
  if (typeof record?.token !== "string" || record.token === "") {
    throw new CliError(`${file} has no token; delete it and log in again with 'kohakuriver auth login'`);
  }
  return {
    token: record.token,
    token_id: typeof record.token_id === "number" ? record.token_id : null,
    token_name: typeof record.token_name === "string" ? record.token_name : null,
    username: typeof record.username === "string" ? record.username : null,
    role: typeof record.role === "string" ? record.role : null,
    ...(typeof record.url === "string" ? { url: record.url } : {}),
  };
}

export function writeCredentials(env: Record<string, string | undefined>, credentials: StoredCredentials): string {
  const file = credentialsFile(env);
  writeFileAtomic(file, `${JSON.stringify(credentials, null, 2)}\n`, 0o600);
  // The mode of openSync applies only to a new file, and the umask may have widened nothing but narrowed it.
  chmodSync(file, 0o600);
  return file;
}

export function removeCredentials(env: Record<string, string | undefined>): boolean {
  const file = credentialsFile(env);
  try {
    rmSync(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/**
 * True when stored credentials may be sent to `url`: they name no host (the original's format), or the
 * same host, where localhost, 127.0.0.1 and ::1 count as one.
 */
export function credentialsApplyTo(credentials: StoredCredentials, url: string): boolean {
  if (credentials.url === undefined) return true;
  return normaliseUrl(credentials.url) === normaliseUrl(url);
}

function normaliseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
    return `${loopback ? "loopback" : parsed.hostname}:${parsed.port || "80"}`;
  } catch {
    return url;
  }
}
