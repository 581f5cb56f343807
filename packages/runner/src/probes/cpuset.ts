/** Docker cpuset values that bind a workload to one NUMA node. */

import type { NumaTopology } from "@kohakuriver/api";

import { formatCpuList } from "./cpu-list.js";

export interface Cpuset {
  /** HostConfig.CpusetCpus, for example "0-3,8-11". */
  cpus: string;
  /** HostConfig.CpusetMems: the node id. */
  mems: string;
}

/** Returns the cpuset of NUMA node `id`, or null when the topology lacks that node or it has no CPUs. */
export function cpusetForNumaNode(topology: NumaTopology | null, id: number | string): Cpuset | null {
  const node = topology?.[String(id)];
  if (node === undefined || node.cores.length === 0) {
    return null;
  }
  return { cpus: formatCpuList(node.cores), mems: String(id) };
}
