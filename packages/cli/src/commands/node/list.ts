/** `kohakuriver node list`: the registered nodes with what tasks reserved on them and their measured load. */

import type { NodeResponse } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { UsageError } from "../../errors.js";
import type { Colors } from "../../output.js";
import {
  colorNodeStatus,
  formatCoreUsage,
  formatGpuUsage,
  formatHeartbeatAge,
  formatPercent,
  formatReservedMemory,
} from "./format.js";

export function registerNodeList(node: Command, runtime: CliRuntime): void {
  node
    .command("list")
    .summary("list nodes: status, cores, memory and GPUs reserved by tasks, measured CPU and memory use")
    .option("-s, --status <status>", "only nodes with this status: online or offline")
    .option("--json", "print the API's node objects as JSON")
    .addHelpText(
      "after",
      "\nThe RESERVED columns are what tasks reserved out of the node's capacity: cores, memory limits\n" +
        "and GPUs. CPU USED and MEMORY USED are the node's own measurements from its last heartbeat.\n" +
        "They differ from the reservations: they count processes outside KohakuRiver, and a task can\n" +
        "use less than it reserved, or more when it has no limit.",
    )
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
        NODE_LIST_HEAD,
        nodes.map((item) => nodeListRow(item, output.colors)),
      );
    });
}

export const NODE_LIST_HEAD = [
  "HOSTNAME",
  "STATUS",
  "CORES RESERVED",
  "MEMORY RESERVED",
  "GPUS RESERVED",
  "CPU USED",
  "MEMORY USED",
  "LAST HEARTBEAT",
];

/** Builds one row of the node table, in the order of NODE_LIST_HEAD. */
export function nodeListRow(item: NodeResponse, colors: Colors, now = Date.now()): string[] {
  return [
    item.hostname,
    colorNodeStatus(item.status, colors),
    formatCoreUsage(item),
    formatReservedMemory(item),
    formatGpuUsage(item),
    formatPercent(item.cpu_percent),
    formatPercent(item.memory_percent),
    formatHeartbeatAge(item.last_heartbeat, now),
  ];
}
