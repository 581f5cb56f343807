/** `kohakuriver node status HOST`: the detail view of one node. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import {
  colorNodeStatus,
  formatCoreUsage,
  formatGpuLines,
  formatGpuUsage,
  formatHeartbeat,
  formatMemoryUsage,
  formatNuma,
  formatPercent,
  formatReservedMemory,
  formatTemperature,
  unknownNodeError,
} from "./format.js";

export function registerNodeStatus(node: Command, runtime: CliRuntime): void {
  node
    .command("status")
    .summary("show one node: capacity, what tasks reserved, measured load, NUMA topology and GPUs")
    .argument("<hostname>", "node name as shown by 'kohakuriver node list'")
    .option("--json", "print the API's node object as JSON")
    .action(async (hostname: string, options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const client = createClient(command, runtime);
      const nodes = await client.listNodes();
      const item = nodes.find((candidate) => candidate.hostname === hostname);
      if (item === undefined) throw unknownNodeError(hostname, nodes);

      if (options.json === true) {
        output.json(item);
        return;
      }
      const pairs: Array<[string, string]> = [
        ["Node", item.hostname],
        ["Status", colorNodeStatus(item.status, output.colors)],
        ["URL", item.url],
        ["Cores reserved", `${formatCoreUsage(item)} (${item.available_cores} free)`],
        ["Memory reserved", formatReservedMemory(item)],
        ["GPUs reserved", formatGpuUsage(item)],
        ["CPU used", `${formatPercent(item.cpu_percent)} (measured)`],
        [
          "Memory used",
          `${formatMemoryUsage(item.memory_used_bytes, item.memory_total_bytes)} (${formatPercent(item.memory_percent)}, measured)`,
        ],
        ["Temperature", formatTemperature(item)],
        ["NUMA", formatNuma(item.numa_topology)],
        ["VM capable", item.vm_capable ? "yes" : "no"],
        ["Runner version", item.runner_version ?? "-"],
        ["Last heartbeat", formatHeartbeat(item.last_heartbeat)],
      ];
      for (const line of formatGpuLines(item.gpu_info)) pairs.push(["GPU", line]);
      output.details(pairs);
    });
}
