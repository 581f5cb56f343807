/**
 * The pid file of `kohakuriver up` (DIR/up.pid): it stops a second `up` on the same data directory and
 * gives `kohakuriver down` the process to stop. A pid file left by a crash, or naming a pid that was
 * reused by an unrelated program, counts as stale and is replaced.
 */

import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

/** Returns the pid file of `kohakuriver up` for a data directory. */
export function upPidFile(dataDir: string): string {
  return join(dataDir, "up.pid");
}

export type PidFileState =
  | { kind: "absent" }
  /** The file exists but names no live kohakuriver process (or contains no pid). */
  | { kind: "stale"; pid: number | null }
  | { kind: "running"; pid: number };

export function readPidFile(path: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    throw error;
  }

  const pid = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(pid) || pid <= 0) return { kind: "stale", pid: null };
  return isKohakuriverProcess(pid) ? { kind: "running", pid } : { kind: "stale", pid };
}

/** True when `pid` is alive, including processes of other users that this one may not signal. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * True when `pid` is alive and its command line is Node.js or mentions kohakuriver. Where /proc is not
 * available any live process counts, because the check cannot be made.
 */
export function isKohakuriverProcess(pid: number): boolean {
  if (!isProcessAlive(pid)) return false;

  let words: string[];
  try {
    words = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return true;
  }
  // A zombie (exited, not yet reaped) has an empty command line.
  if (words.join("") === "") return false;
  return basename(words[0] ?? "").startsWith("node") || words.some((word) => word.includes("kohakuriver"));
}

/**
 * Writes this process's pid into the file unless it names a running process.
 * Returns the pid of that process when the file is taken, else null.
 */
export function claimPidFile(path: string, pid = process.pid): number | null {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      // "wx" fails when the file exists, so two processes starting at once cannot both claim it.
      writeFileSync(path, `${pid}\n`, { flag: "wx" });
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }

    const state = readPidFile(path);
    if (state.kind === "running") return state.pid;
    removeFile(path);
  }
  throw new Error(`cannot create the pid file ${path}: another process keeps recreating it`);
}

/** Removes the pid file if it still names `pid`, so a newer owner's file is left alone. */
export function releasePidFile(path: string, pid = process.pid): void {
  try {
    if (readFileSync(path, "utf8").trim() === String(pid)) removeFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
