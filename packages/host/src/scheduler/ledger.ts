/**
 * In-memory accounting of what every node has and what the tasks on it hold.
 *
 * The store is the source of truth. The ledger is rebuilt from it at start and then kept in step by the
 * scheduler, the status updates and the node monitor, so placement never has to query the store.
 * Tasks hold their resources while `assigning`, `running` or `paused`.
 */

import { formatBytes, type NumaTopology } from "@kohakuriver/api";

export interface NodeCapacity {
  hostname: string;
  url: string;
  totalCores: number;
  /** Total memory in bytes; null when the runner did not report it (memory requests then always fit). */
  memoryBytes: number | null;
  gpuIds: number[];
  numaTopology: NumaTopology | null;
}

export interface ResourceRequest {
  cores: number;
  memoryBytes: number | null;
  /** Specific GPU indices; empty for none. */
  gpuIds: number[];
  /** A number of GPUs, any of them, used when gpuIds is empty. */
  gpuCount: number;
  numaNodeId: number | null;
}

export interface Allocation {
  taskId: string;
  hostname: string;
  cores: number;
  memoryBytes: number;
  gpuIds: number[];
}

export interface NodeLedgerEntry {
  capacity: NodeCapacity;
  /** True while the node sends heartbeats and may receive new tasks. */
  schedulable: boolean;
  usedCores: number;
  usedMemoryBytes: number;
  usedGpus: Set<number>;
  taskIds: Set<string>;
}

// Cores may be fractional (0.5); compare with a tolerance so that 0.1 + 0.2 cores fit into 0.3.
const EPSILON = 1e-9;

export type FitResult = { fits: true; gpuIds: number[] } | { fits: false; reason: string };

export class ResourceLedger {
  private readonly nodes = new Map<string, NodeLedgerEntry>();
  private readonly allocations = new Map<string, Allocation>();

  upsertNode(capacity: NodeCapacity): void {
    const existing = this.nodes.get(capacity.hostname);
    if (existing !== undefined) {
      existing.capacity = capacity;
      return;
    }
    this.nodes.set(capacity.hostname, {
      capacity,
      schedulable: false,
      usedCores: 0,
      usedMemoryBytes: 0,
      usedGpus: new Set(),
      taskIds: new Set(),
    });
  }

  setSchedulable(hostname: string, schedulable: boolean): void {
    const node = this.nodes.get(hostname);
    if (node !== undefined) node.schedulable = schedulable;
  }

  getNode(hostname: string): NodeLedgerEntry | undefined {
    return this.nodes.get(hostname);
  }

  listNodes(): NodeLedgerEntry[] {
    return [...this.nodes.values()];
  }

  getAllocation(taskId: string): Allocation | undefined {
    return this.allocations.get(taskId);
  }

  /** Records the resources a task uses on a node, replacing an earlier allocation of the same task. */
  allocate(allocation: Allocation): void {
    this.release(allocation.taskId);
    const node = this.nodes.get(allocation.hostname);
    if (node === undefined) return;

    node.usedCores += allocation.cores;
    node.usedMemoryBytes += allocation.memoryBytes;
    for (const gpu of allocation.gpuIds) node.usedGpus.add(gpu);
    node.taskIds.add(allocation.taskId);
    this.allocations.set(allocation.taskId, allocation);
  }

  /** Frees the resources allocated to a task; does nothing when it has none. */
  release(taskId: string): void {
    const allocation = this.allocations.get(taskId);
    if (allocation === undefined) return;
    this.allocations.delete(taskId);

    const node = this.nodes.get(allocation.hostname);
    if (node === undefined) return;
    node.usedCores = Math.max(0, node.usedCores - allocation.cores);
    node.usedMemoryBytes = Math.max(0, node.usedMemoryBytes - allocation.memoryBytes);
    for (const gpu of allocation.gpuIds) node.usedGpus.delete(gpu);
    node.taskIds.delete(taskId);
  }

  /** Checks whether the request fits into what the node has free now; picks GPUs for a GPU count. */
  fitsNow(node: NodeLedgerEntry, request: ResourceRequest): FitResult {
    const capacity = node.capacity;
    if (request.cores > 0 && capacity.totalCores - node.usedCores + EPSILON < request.cores) {
      return { fits: false, reason: `${formatCores(capacity.totalCores - node.usedCores)} free` };
    }
    if (request.memoryBytes !== null && request.memoryBytes > 0 && capacity.memoryBytes !== null) {
      if (capacity.memoryBytes - node.usedMemoryBytes < request.memoryBytes) {
        return { fits: false, reason: "not enough free memory" };
      }
    }
    if (request.gpuIds.length > 0) {
      const busy = request.gpuIds.filter((gpu) => node.usedGpus.has(gpu));
      if (busy.length > 0) return { fits: false, reason: `GPU ${busy.join(",")} in use` };
      return { fits: true, gpuIds: [...request.gpuIds] };
    }
    if (request.gpuCount > 0) {
      const free = capacity.gpuIds.filter((gpu) => !node.usedGpus.has(gpu));
      if (free.length < request.gpuCount) return { fits: false, reason: `${free.length} GPUs free` };
      return { fits: true, gpuIds: free.slice(0, request.gpuCount) };
    }
    return { fits: true, gpuIds: [] };
  }

  /**
   * Returns null when the node could run the request once idle, else the reason it never could and the
   * submission field that requests too much.
   */
  neverFitsReason(capacity: NodeCapacity, request: ResourceRequest): CapacityShortfall | null {
    const host = capacity.hostname;
    if (request.cores > capacity.totalCores + EPSILON) {
      return {
        field: "required_cores",
        reason: `${formatCores(request.cores)} requested but node ${host} has ${formatCores(capacity.totalCores)}`,
      };
    }
    if (request.memoryBytes !== null && capacity.memoryBytes !== null && request.memoryBytes > capacity.memoryBytes) {
      return {
        field: "required_memory_bytes",
        reason: `${formatBytes(request.memoryBytes)} of memory requested but node ${host} has ${formatBytes(capacity.memoryBytes)}`,
      };
    }
    const missingGpus = request.gpuIds.filter((gpu) => !capacity.gpuIds.includes(gpu));
    if (missingGpus.length > 0) {
      const available =
        capacity.gpuIds.length === 0
          ? "no GPUs"
          : `only ${capacity.gpuIds.length === 1 ? "GPU" : "GPUs"} ${capacity.gpuIds.join(", ")}`;
      return {
        field: "required_gpus",
        reason: `GPU ${missingGpus.join(",")} requested but node ${host} has ${available}`,
      };
    }
    if (request.gpuCount > capacity.gpuIds.length) {
      return {
        field: "required_gpu_count",
        reason: `${countOf(request.gpuCount, "GPU")} requested but node ${host} has ${capacity.gpuIds.length}`,
      };
    }
    if (request.numaNodeId !== null) {
      const numaIds = Object.keys(capacity.numaTopology ?? {});
      if (!numaIds.includes(String(request.numaNodeId))) {
        const available =
          numaIds.length === 0
            ? "no NUMA topology"
            : `only ${numaIds.length === 1 ? "NUMA node" : "NUMA nodes"} ${numaIds.join(", ")}`;
        return {
          field: "targets",
          reason: `NUMA node ${request.numaNodeId} requested but node ${host} has ${available}`,
        };
      }
    }
    return null;
  }
}

export interface CapacityShortfall {
  /** The submission field that requests more than the node has. */
  field: string;
  reason: string;
}

/** `1 GPU`, `2 GPUs`. */
export function countOf(count: number, noun: string): string {
  return `${count} ${count === 1 ? noun : `${noun}s`}`;
}

export function formatCores(cores: number): string {
  const rounded = Math.round(cores * 100) / 100;
  return `${rounded} ${rounded === 1 ? "core" : "cores"}`;
}
