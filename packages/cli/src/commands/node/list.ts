/** `kohakuriver node list`: the registered nodes with their load and capacity. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { UsageError } from "../../errors.js";
import {
  colorNodeStatus,
  formatCoreUsage,
  formatGpuUsage,
  formatHeartbeat,
  formatMemoryUsage,
  formatPercent,
} from "./format.js";

export function registerNodeList(node: Command, runtime: CliRuntime): void {
  node
    .command("list")
    .summary("list nodes: status, cores in use, memory, GPUs, CPU load and last heartbeat")
    .option("-s, --status <status>", "only nodes with this status: online or offline")
    .option("--json", "print the API's node objects as JSON")
    .action(async (options: { status?: string; json?: boolean }, command: Command) => {
      const { output } = runtime;
      if (options.status !== undefined && options.status !== "online" && options.status !== "offline") {
        throw new UsageError(`invalid node status '${options.status}' for --status: use online or offline`);
      }

      const client = createClient(command, runtime);
      const nodes = (await client.listNodes()).filter(
        (item) => options.status === undefined || item.status === options.status,
      );

      if (options.json === true) {
        output.json(nodes);
        return;
      }
      if (nodes.length === 0) {
        output.note(
          options.status === undefined
            ? "no nodes registered; start a runner with 'kohakuriver runner'"
            : `no ${options.status} nodes`,
        );
        return;
      }
      output.table(
        ["HOSTNAME", "STATUS", "CORES USED", "MEMORY USED", "GPUS USED", "CPU", "LAST HEARTBEAT"],
        nodes.map((item) => [
          item.hostname,
          colorNodeStatus(item.status, output.colors),
          formatCoreUsage(item),
          formatMemoryUsage(item.memory_used_bytes, item.memory_total_bytes),
          formatGpuUsage(item),
          formatPercent(item.cpu_percent),
          formatHeartbeat(item.last_heartbeat),
        ]),
      );
    });
}
