/** The `kohakuriver node` command group. */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerNodeHealth } from "./health.js";
import { registerNodeList } from "./list.js";
import { registerNodeStatus } from "./status.js";
import { registerNodeSummary } from "./summary.js";

export function registerNodeCommands(program: Command, runtime: CliRuntime): void {
  const node = program.command("node").summary("list nodes and show their status, health and cluster totals");

  registerNodeList(node, runtime);
  registerNodeStatus(node, runtime);
  registerNodeHealth(node, runtime);
  registerNodeSummary(node, runtime);
}
