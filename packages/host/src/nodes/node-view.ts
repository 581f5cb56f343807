/** Node records and ledger state as the API returns them (GET /api/nodes, GET /api/health). */

import type { HealthAggregate, NodeHealth, NodeResponse } from "@kohakuriver/api";

import type { ResourceLedger } from "../scheduler/ledger.js";
import type { NodeRecord } from "../store/types.js";

export function toNodeResponse(record: NodeRecord, ledger: ResourceLedger): NodeResponse {
  const entry = ledger.getNode(record.hostname);
  const online = record.status === "online";
  const usedCores = entry?.usedCores ?? 0;
  return {
    hostname: record.hostname,
    url: record.url,
    total_cores: record.total_cores,
    cores_in_use: online ? usedCores : "N/A",
    available_cores: online ? Math.max(0, record.total_cores - usedCores) : 0,
    memory_in_use_bytes: entry?.usedMemoryBytes ?? 0,
    gpus_in_use: [...(entry?.usedGpus ?? [])].sort((a, b) => a - b),
    status: record.status,
    last_heartbeat: record.last_heartbeat,
    numa_topology: record.numa_topology,
    gpu_info: record.gpu_info,
    cpu_percent: record.cpu_percent,
    memory_percent: record.memory_percent,
    memory_used_bytes: record.memory_used_bytes,
    memory_total_bytes: record.memory_total_bytes,
    current_avg_temp: record.current_avg_temp,
    current_max_temp: record.current_max_temp,
    vm_capable: record.vm_capable,
    vfio_gpus: record.vfio_gpus,
    runner_version: record.runner_version,
  };
}

export function toNodeHealth(record: NodeRecord): NodeHealth {
  return {
    hostname: record.hostname,
    status: record.status,
    last_heartbeat: record.last_heartbeat,
    cpu_percent: record.cpu_percent,
    memory_percent: record.memory_percent,
    memory_used_bytes: record.memory_used_bytes,
    memory_total_bytes: record.memory_total_bytes,
    total_cores: record.total_cores,
    numa_topology: record.numa_topology,
    current_avg_temp: record.current_avg_temp,
    current_max_temp: record.current_max_temp,
    gpu_info: record.gpu_info,
  };
}

/** Cluster totals over one health sample; CPU percent is weighted by cores, as the original computes it. */
export function aggregateHealth(nodes: readonly NodeHealth[]): HealthAggregate {
  const online = nodes.filter((node) => node.status === "online");
  const totalCores = online.reduce((sum, node) => sum + node.total_cores, 0);
  const totalMemBytes = online.reduce((sum, node) => sum + (node.memory_total_bytes ?? 0), 0);
  const usedMemBytes = online.reduce((sum, node) => sum + (node.memory_used_bytes ?? 0), 0);
  const weightedCpu = online.reduce((sum, node) => sum + (node.cpu_percent ?? 0) * node.total_cores, 0);
  const heartbeats = nodes
    .map((node) => node.last_heartbeat)
    .filter((value): value is string => value !== null)
    .sort();

  return {
    totalNodes: nodes.length,
    onlineNodes: online.length,
    totalCores,
    totalMemBytes,
    usedMemBytes,
    avgCpuPercent: totalCores === 0 ? 0 : weightedCpu / totalCores,
    avgMemPercent: totalMemBytes === 0 ? 0 : (usedMemBytes / totalMemBytes) * 100,
    maxAvgCpuTemp: Math.max(0, ...online.map((node) => node.current_avg_temp ?? 0)),
    maxMaxCpuTemp: Math.max(0, ...online.map((node) => node.current_max_temp ?? 0)),
    lastUpdated: heartbeats[heartbeats.length - 1] ?? null,
  };
}

/** The last 60 health samples, one per second, as the original's dashboard expects. */
export class HealthHistory {
  private readonly samples: NodeHealth[][] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly readNodes: () => NodeRecord[],
    private readonly maxSamples = 60,
  ) {}

  start(intervalMs = 1000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): void {
    this.samples.push(this.readNodes().map(toNodeHealth));
    if (this.samples.length > this.maxSamples) this.samples.shift();
  }

  history(): { nodes: NodeHealth[][]; aggregate: HealthAggregate[] } {
    return { nodes: this.samples, aggregate: this.samples.map(aggregateHealth) };
  }
}
