/** `kohakuriver node summary`: cluster totals (nodes, cores, memory, GPUs) and task counts by status. */

import { formatBytes, TASK_STATUSES, type HostClient, type NodeResponse, type TaskStatus } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { colorStatus } from "../task/format.js";

/** The largest page GET /api/tasks returns. A status with this many tasks is shown as "10000+". */
const COUNT_LIMIT = 10_000;

export interface ClusterSummary {
  nodes: { online: number; offline: number };
  /** Cores of online nodes, and the cores reserved by tasks on them (`in_use`). */
  cores: { total: number; in_use: number };
  /** Memory of online nodes in bytes: reported total, measured use, and reserved by tasks' memory limits. */
  memory_bytes: { total: number; used: number; reserved: number };
  /** GPUs of online nodes, and the GPUs allocated to tasks on them (`in_use`). */
  gpus: { total: number; in_use: number };
  /** Command tasks per status. `capped` lists statuses whose count reached the limit and may be higher. */
  tasks: { counts: Record<TaskStatus, number>; capped: TaskStatus[] };
}

export function registerNodeSummary(node: Command, runtime: CliRuntime): void {
  node
    .command("summary")
    .summary("show cluster totals: nodes, cores, memory, GPUs and tasks by status")
    .option("--json", "print the summary as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const client = createClient(command, runtime);
      const [nodes, tasks] = await Promise.all([client.listNodes(), countTasks(client)]);
      const summary: ClusterSummary = { ...summarizeNodes(nodes), tasks };

      if (options.json === true) {
        output.json(summary);
        return;
      }
      output.details([
        ["Nodes", `${summary.nodes.online} online, ${summary.nodes.offline} offline`],
        ["Cores reserved", `${summary.cores.in_use} / ${summary.cores.total}`],
        [
          "Memory reserved",
          `${formatBytes(summary.memory_bytes.reserved)} / ${formatBytes(summary.memory_bytes.total)}`,
        ],
        ["GPUs reserved", `${summary.gpus.in_use} / ${summary.gpus.total}`],
        [
          "Memory used",
          `${formatBytes(summary.memory_bytes.used)} / ${formatBytes(summary.memory_bytes.total)} (measured)`,
        ],
      ]);

      const rows = TASK_STATUSES.filter((status) => tasks.counts[status] > 0).map((status) => [
        colorStatus(status, output.colors),
        `${tasks.counts[status]}${tasks.capped.includes(status) ? "+" : ""}`,
      ]);
      output.line();
      if (rows.length === 0) output.line("no tasks yet");
      else output.table(["TASK STATUS", "COUNT"], rows);
    });
}

/** Sums capacity and use over online nodes, and counts offline nodes. */
export function summarizeNodes(nodes: NodeResponse[]): Omit<ClusterSummary, "tasks"> {
  const online = nodes.filter((item) => item.status === "online");
  const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);
  return {
    nodes: { online: online.length, offline: nodes.length - online.length },
    cores: {
      total: sum(online.map((item) => item.total_cores)),
      in_use: sum(online.map((item) => (typeof item.cores_in_use === "number" ? item.cores_in_use : 0))),
    },
    memory_bytes: {
      total: sum(online.map((item) => item.memory_total_bytes ?? 0)),
      used: sum(online.map((item) => item.memory_used_bytes ?? 0)),
      reserved: sum(online.map((item) => item.memory_in_use_bytes)),
    },
    gpus: {
      total: sum(online.map((item) => item.gpu_info.length)),
      in_use: sum(online.map((item) => item.gpus_in_use.length)),
    },
  };
}

// NOTE: the host has no count endpoint, so each status is counted by listing up to COUNT_LIMIT tasks.
async function countTasks(client: HostClient): Promise<ClusterSummary["tasks"]> {
  const lists = await Promise.all(TASK_STATUSES.map((status) => client.listTasks({ status, limit: COUNT_LIMIT })));
  const counts = Object.fromEntries(
    TASK_STATUSES.map((status, index) => [status, lists[index]?.length ?? 0]),
  ) as Record<TaskStatus, number>;
  return { counts, capped: TASK_STATUSES.filter((status) => counts[status] >= COUNT_LIMIT) };
}
