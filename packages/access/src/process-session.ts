/**
 * Ends every process of an exec session. A TTY exec starts its program as the leader of a new session, so
 * the program and whatever it started share its session id, including jobs that an interactive shell put
 * in process groups of their own. The Engine reports the program's process id in the host's PID namespace.
 * The runner (like the host with its environment containers) runs beside its Engine, so it signals the
 * processes directly: SIGHUP first, as a closed terminal would, then SIGKILL to what is left.
 */

import { readdir, readFile } from "node:fs/promises";

/** Time between SIGHUP and SIGKILL. */
export const HANGUP_GRACE_MS = 100;

export async function endProcessSession(leaderPid: number, graceMs = HANGUP_GRACE_MS): Promise<void> {
  if (!Number.isInteger(leaderPid) || leaderPid <= 1) return;
  const members = await sessionMembers(leaderPid);
  if (members.length === 0) return;
  signalAll(members, "SIGHUP");
  await new Promise((resolve) => setTimeout(resolve, graceMs));
  signalAll(await sessionMembers(leaderPid), "SIGKILL");
}

/** Returns the processes whose session or process group is `leaderPid`, read from /proc. */
export async function sessionMembers(leaderPid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const members: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        const ids = await readProcessIds(entry);
        if (ids !== null && (ids.session === leaderPid || ids.group === leaderPid)) members.push(Number(entry));
      }),
  );
  return members;
}

async function readProcessIds(pid: string): Promise<{ group: number; session: number } | null> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name in parentheses may itself contain spaces and parentheses; the fields after the last
  // ')' are: state, parent, process group, session.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { group: Number(fields[2]), session: Number(fields[3]) };
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
