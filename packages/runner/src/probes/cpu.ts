/** CPU usage from /proc/stat and the logical core count. */

import { readFile } from "node:fs/promises";
import { cpus } from "node:os";

export const PROC_STAT = "/proc/stat";

export interface CpuTimes {
  /** Jiffies spent on anything but idle and iowait, summed over all CPUs. */
  busy: number;
  total: number;
}

/**
 * Reads the aggregate "cpu" line of /proc/stat. Guest time is left out of the total because the kernel
 * already counts it in user and nice.
 */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split("\n").find((candidate) => candidate.startsWith("cpu "));
  if (line === undefined) {
    throw new Error('invalid /proc/stat: no aggregate "cpu" line');
  }

  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** Counts the per-CPU lines of /proc/stat, which are the online logical CPUs. */
export function countStatCpus(text: string): number {
  return text.split("\n").filter((line) => /^cpu\d+\s/.test(line)).length;
}

/** Returns the number of online logical CPUs, falling back to os.cpus() where /proc is unreadable. */
export async function readLogicalCoreCount(statPath = PROC_STAT): Promise<number> {
  const text = await readFile(statPath, "utf8").catch(() => "");
  const counted = countStatCpus(text);
  return counted > 0 ? counted : Math.max(1, cpus().length);
}

/** Measures CPU usage as a percentage between successive samples, like `psutil.cpu_percent(interval=None)`. */
export class CpuSampler {
  private previous: CpuTimes | null = null;

  constructor(private readonly statPath = PROC_STAT) {}

  /**
   * Returns the busy share of all CPUs since the previous call, from 0 to 100 with one decimal.
   * The first call measures since boot. Returns 0 when no time passed between calls.
   */
  async sample(): Promise<number> {
    const current = parseProcStat(await readFile(this.statPath, "utf8"));
    const previous = this.previous ?? { busy: 0, total: 0 };
    this.previous = current;

    const total = current.total - previous.total;
    if (total <= 0) {
      return 0;
    }
    const busy = Math.min(Math.max(current.busy - previous.busy, 0), total);
    return Math.round((busy / total) * 1000) / 10;
  }
}
