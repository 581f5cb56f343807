/** NUMA topology from sysfs: the CPUs and memory of each node under /sys/devices/system/node. */

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import type { NumaTopology } from "@kohakuriver/api";

import { parseCpuList } from "./cpu-list.js";

export const SYSFS_NODE_ROOT = "/sys/devices/system/node";

/** Reads "Node 0 MemTotal:  24683784 kB" from a node's meminfo; returns bytes, or null when absent. */
export function parseNodeMemTotal(meminfo: string): number | null {
  const match = /^Node\s+\d+\s+MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return match === null ? null : Number(match[1]) * 1024;
}

/**
 * Reads the topology as `{ "0": { cores: [0, 1], memory_bytes: … } }`, keyed by node id in numeric order.
 * Returns null when the directory is missing or lists no node, as on kernels built without NUMA.
 * A memory-only node (no CPUs) is kept with an empty core list.
 */
export async function readNumaTopology(root = SYSFS_NODE_ROOT): Promise<NumaTopology | null> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return null;
  }

  const nodeIds = entries
    .map((entry) => /^node(\d+)$/.exec(entry)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort((a, b) => Number(a) - Number(b));

  const topology: NumaTopology = {};
  for (const id of nodeIds) {
    const nodeDir = join(root, `node${id}`);
    const cpulist = await readFile(join(nodeDir, "cpulist"), "utf8").catch(() => null);
    if (cpulist === null) {
      continue;
    }
    const meminfo = await readFile(join(nodeDir, "meminfo"), "utf8").catch(() => "");
    topology[id] = { cores: parseCpuList(cpulist), memory_bytes: parseNodeMemTotal(meminfo) };
  }
  return Object.keys(topology).length === 0 ? null : topology;
}
