/** Memory usage from /proc/meminfo. */

import { readFile } from "node:fs/promises";

export const PROC_MEMINFO = "/proc/meminfo";

export interface MemoryUsage {
  totalBytes: number;
  /** MemTotal minus MemAvailable: memory that cannot be reclaimed without swapping. */
  usedBytes: number;
  availableBytes: number;
  /** usedBytes as a percentage of totalBytes, with one decimal. */
  percent: number;
}

function readKilobytes(meminfo: string, key: string): number | null {
  const match = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, "m").exec(meminfo);
  return match === null ? null : Number(match[1]) * 1024;
}

/** Parses /proc/meminfo. Kernels before 3.14 lack MemAvailable, so MemFree + Buffers + Cached is used instead. */
export function parseMeminfo(meminfo: string): MemoryUsage {
  const totalBytes = readKilobytes(meminfo, "MemTotal");
  if (totalBytes === null || totalBytes === 0) {
    throw new Error("invalid /proc/meminfo: MemTotal missing");
  }

  const availableBytes =
    readKilobytes(meminfo, "MemAvailable") ??
    (readKilobytes(meminfo, "MemFree") ?? 0) +
      (readKilobytes(meminfo, "Buffers") ?? 0) +
      (readKilobytes(meminfo, "Cached") ?? 0);
  const usedBytes = Math.max(totalBytes - availableBytes, 0);
  return {
    totalBytes,
    usedBytes,
    availableBytes,
    percent: Math.round((usedBytes / totalBytes) * 1000) / 10,
  };
}

export async function readMemoryUsage(path = PROC_MEMINFO): Promise<MemoryUsage> {
  return parseMeminfo(await readFile(path, "utf8"));
}
