/** Text views of nodes shared by the node commands. */

import { formatBytes, NotFoundError, type GpuInfo, type NodeHealth, type NodeResponse } from "@kohakuriver/api";

import type { Colors } from "../../output.js";
import { formatDuration, formatTime } from "../task/format.js";

export function colorNodeStatus(status: string, colors: Colors): string {
  return status === "online" ? colors.green(status) : colors.red(status);
}

export function formatPercent(value: number | null): string {
  return value === null ? "-" : `${value.toFixed(1)}%`;
}

/** `used / total` for memory reported by the node, in decimal units. */
export function formatMemoryUsage(used: number | null, total: number | null): string {
  if (used === null && total === null) return "-";
  return `${formatBytes(used)} / ${formatBytes(total)}`;
}

/** Formats the age of the last heartbeat, such as `3s ago`, for tables where the full time does not fit. */
export function formatHeartbeatAge(iso: string | null, now = Date.now()): string {
  if (iso === null) return "never";
  const age = (now - Date.parse(iso)) / 1000;
  return Number.isNaN(age) ? iso : `${formatDuration(age)} ago`;
}

/** Formats the last heartbeat as local time with its age, such as `2026-12-04 10:00:01 (3s ago)`. */
export function formatHeartbeat(iso: string | null, now = Date.now()): string {
  if (iso === null) return "never";
  const age = (now - Date.parse(iso)) / 1000;
  return Number.isNaN(age) ? iso : `${formatTime(iso)} (${formatDuration(age)} ago)`;
}

/** Formats the cores reserved by tasks over the node's cores, such as `4 / 16`. */
export function formatCoreUsage(node: Pick<NodeResponse, "cores_in_use" | "total_cores">): string {
  return `${node.cores_in_use} / ${node.total_cores}`;
}

/** Formats the memory reserved by tasks (their memory limits) over the node's memory, such as `4.0 GB / 67.4 GB`. */
export function formatReservedMemory(node: Pick<NodeResponse, "memory_in_use_bytes" | "memory_total_bytes">): string {
  return `${formatBytes(node.memory_in_use_bytes)} / ${formatBytes(node.memory_total_bytes)}`;
}

/** Formats the GPUs allocated to tasks over the node's GPUs, such as `1 / 2`, or `-` for a node without GPUs. */
export function formatGpuUsage(node: Pick<NodeResponse, "gpus_in_use" | "gpu_info">): string {
  if (node.gpu_info.length === 0) return "-";
  return `${node.gpus_in_use.length} / ${node.gpu_info.length}`;
}

/** Formats one line per GPU: index, model, utilization, memory and temperature (-1 values from the runner shown as -). */
export function formatGpuLines(gpus: GpuInfo[]): string[] {
  const known = (value: number, unit: string): string => (value < 0 ? "-" : `${value}${unit}`);
  return gpus.map(
    (gpu) =>
      `${gpu.gpu_id}: ${gpu.name}, ${known(gpu.gpu_utilization, "%")} busy, ` +
      `${known(gpu.memory_used_mib, "")} / ${known(gpu.memory_total_mib, " MiB")}, ${known(gpu.temperature, " °C")}`,
  );
}

/** NUMA topology as `0: cores 0-15, 32.0 GB; 1: cores 16-31, 32.0 GB`. */
export function formatNuma(topology: NodeResponse["numa_topology"]): string {
  if (topology === null || Object.keys(topology).length === 0) return "-";
  return Object.entries(topology)
    .map(([id, numa]) => {
      const memory = numa.memory_bytes === null ? "" : `, ${formatBytes(numa.memory_bytes)}`;
      return `${id}: cores ${formatCoreList(numa.cores)}${memory}`;
    })
    .join("; ");
}

/** Compresses a core list into ranges: [0,1,2,3,8] becomes `0-3,8`. */
export function formatCoreList(cores: number[]): string {
  const sorted = [...cores].sort((a, b) => a - b);
  const ranges: string[] = [];
  let index = 0;
  while (index < sorted.length) {
    const first = sorted[index] as number;
    let last = first;
    while (sorted[index + 1] === last + 1) {
      index += 1;
      last += 1;
    }
    ranges.push(first === last ? `${first}` : `${first}-${last}`);
    index += 1;
  }
  return ranges.join(",");
}

export function formatTemperature(health: Pick<NodeHealth, "current_avg_temp" | "current_max_temp">): string {
  if (health.current_avg_temp === null && health.current_max_temp === null) return "-";
  const show = (value: number | null): string => (value === null ? "-" : `${value.toFixed(0)} °C`);
  return `${show(health.current_avg_temp)} avg, ${show(health.current_max_temp)} max`;
}

/** Builds the not-found error for a node name that is not registered, listing the registered names. */
export function unknownNodeError(hostname: string, nodes: Array<Pick<NodeResponse, "hostname">>): NotFoundError {
  const names = nodes.map((item) => item.hostname).sort();
  const known = names.length === 0 ? "no nodes are registered yet" : `registered nodes: ${names.join(", ")}`;
  return new NotFoundError(`node '${hostname}' not found (${known})`);
}
