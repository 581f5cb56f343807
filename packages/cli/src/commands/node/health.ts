/** `kohakuriver node health [HOST]`: the latest health sample of one node or of the whole cluster. */

import { NotFoundError, type HostClient, type NodeHealth } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import type { Output } from "../../output.js";
import { plural } from "../../plural.js";
import {
  colorNodeStatus,
  formatGpuLines,
  formatHeartbeat,
  formatMemoryUsage,
  formatPercent,
  formatTemperature,
  unknownNodeError,
} from "./format.js";

export function registerNodeHealth(node: Command, runtime: CliRuntime): void {
  node
    .command("health")
    .summary("show the latest health sample: CPU, memory, temperatures and GPUs")
    .argument("[hostname]", "one node; without it, every node and the cluster totals")
    .option("--json", "print the API's response as JSON (for the cluster: the sample history)")
    .action(async (hostname: string | undefined, options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const client = createClient(command, runtime);

      if (hostname !== undefined) {
        const samples = await getNodeHealth(client, hostname);
        if (options.json === true) {
          output.json(samples);
          return;
        }
        const latest = samples.at(-1);
        if (latest === undefined) {
          output.note(`no health data for node '${hostname}' yet`);
          return;
        }
        printNodeHealth(latest, output);
        return;
      }

      const history = await client.getHealth();
      if (options.json === true) {
        output.json(history);
        return;
      }
      const nodes = history.nodes.at(-1) ?? [];
      const aggregate = history.aggregate.at(-1);
      if (aggregate === undefined || nodes.length === 0) {
        output.note("no health data yet: no node has sent a heartbeat");
        return;
      }

      output.details([
        ["Nodes online", `${aggregate.onlineNodes} / ${aggregate.totalNodes}`],
        ["Cores", String(aggregate.totalCores)],
        [
          "Memory used",
          `${formatMemoryUsage(aggregate.usedMemBytes, aggregate.totalMemBytes)} (${formatPercent(aggregate.avgMemPercent)})`,
        ],
        ["CPU (core-weighted)", formatPercent(aggregate.avgCpuPercent)],
        [
          "Hottest CPU",
          // The aggregate reports 0 when no node sends temperatures.
          aggregate.maxMaxCpuTemp > 0
            ? `${aggregate.maxAvgCpuTemp.toFixed(0)} °C avg, ${aggregate.maxMaxCpuTemp.toFixed(0)} °C max`
            : "-",
        ],
        ["Last update", formatHeartbeat(aggregate.lastUpdated)],
      ]);
      output.line();
      output.table(
        ["HOSTNAME", "STATUS", "CPU", "MEMORY USED", "TEMPERATURE", "GPUS", "LAST HEARTBEAT"],
        nodes.map((item) => [
          item.hostname,
          colorNodeStatus(item.status, output.colors),
          formatPercent(item.cpu_percent),
          formatMemoryUsage(item.memory_used_bytes, item.memory_total_bytes),
          formatTemperature(item),
          item.gpu_info.length === 0 ? "-" : String(item.gpu_info.length),
          formatHeartbeat(item.last_heartbeat),
        ]),
      );
    });
}

/** Fetches one node's health sample. For an unknown node the error lists the registered nodes. */
async function getNodeHealth(client: HostClient, hostname: string): Promise<NodeHealth[]> {
  try {
    // The host returns a one-element array for a single node.
    return await client.getNodeHealth(hostname);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw unknownNodeError(hostname, await client.listNodes());
  }
}

function printNodeHealth(health: NodeHealth, output: Output): void {
  const pairs: Array<[string, string]> = [
    ["Node", health.hostname],
    ["Status", colorNodeStatus(health.status, output.colors)],
    ["CPU", `${formatPercent(health.cpu_percent)} of ${plural(health.total_cores, "core")}`],
    [
      "Memory used",
      `${formatMemoryUsage(health.memory_used_bytes, health.memory_total_bytes)} (${formatPercent(health.memory_percent)})`,
    ],
    ["Temperature", formatTemperature(health)],
    ["Last heartbeat", formatHeartbeat(health.last_heartbeat)],
  ];
  for (const line of formatGpuLines(health.gpu_info)) pairs.push(["GPU", line]);
  output.details(pairs);
}
