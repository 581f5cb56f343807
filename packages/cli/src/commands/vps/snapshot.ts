/** `kohakuriver vps snapshot create|list|delete|restore`: snapshots of a Docker VPS, kept on its node. */

import type { Snapshot } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { UsageError } from "../../errors.js";
import { checkTaskId, parseInteger } from "../../options.js";
import { waitUntilRunning } from "./wait.js";

function checkTimestamp(text: string): string {
  if (!/^\d{1,12}$/.test(text)) {
    throw new UsageError(`invalid snapshot timestamp '${text}': use the TIMESTAMP column of 'vps snapshot list'`);
  }
  return text;
}

export function registerSnapshotCommands(vps: Command, runtime: CliRuntime): void {
  const snapshot = vps.command("snapshot").summary("create, list, delete and restore snapshots of a VPS");

  snapshot
    .command("create")
    .summary("commit a running VPS's file system as a new snapshot on its node")
    .argument("<id>", "VPS task id")
    .option("-m, --message <text>", "a note stored with the snapshot")
    .action(async (taskId: string, options: { message?: string }, command: Command) => {
      const client = createClient(command, runtime);
      const query = options.message === undefined ? "" : `?message=${encodeURIComponent(options.message)}`;
      const response = await client.request<{ message: string; tag: string }>(
        "POST",
        `/api/vps/snapshots/${checkTaskId(taskId)}${query}`,
      );
      runtime.output.line(response.message);
    });

  snapshot
    .command("list")
    .summary("list a VPS's snapshots, newest first")
    .argument("<id>", "VPS task id")
    .option("--json", "print the API's answer as JSON")
    .action(async (taskId: string, options: { json?: boolean }, command: Command) => {
      const client = createClient(command, runtime);
      const response = await client.request<{ snapshots: Snapshot[]; count: number }>(
        "GET",
        `/api/vps/snapshots/${checkTaskId(taskId)}`,
      );
      if (options.json === true) {
        runtime.output.json(response);
        return;
      }
      if (response.count === 0) {
        runtime.output.line(`VPS ${taskId} has no snapshots.`);
        return;
      }
      runtime.output.table(
        ["TIMESTAMP", "CREATED", "SIZE (MB)", "MESSAGE"],
        response.snapshots.map((item) => [
          String(item.timestamp),
          item.created_at.replace("T", " ").slice(0, 19),
          (item.size / 1e6).toFixed(1),
          item.message ?? "",
        ]),
      );
    });

  snapshot
    .command("delete")
    .summary("delete one snapshot, or all of them with --all")
    .argument("<id>", "VPS task id")
    .argument("[timestamp]", "snapshot timestamp from 'vps snapshot list'")
    .option("--all", "delete every snapshot of the VPS")
    .action(async (taskId: string, timestamp: string | undefined, options: { all?: boolean }, command: Command) => {
      const id = checkTaskId(taskId);
      if ((timestamp === undefined) === (options.all !== true)) {
        throw new UsageError("give either a snapshot TIMESTAMP or --all");
      }
      const client = createClient(command, runtime);
      const path =
        timestamp === undefined ? `/api/vps/snapshots/${id}` : `/api/vps/snapshots/${id}/${checkTimestamp(timestamp)}`;
      const response = await client.request<{ message: string }>("DELETE", path);
      runtime.output.line(response.message);
    });

  snapshot
    .command("restore")
    .summary("restart a VPS from one snapshot (the newest without TIMESTAMP); waits until it runs")
    .argument("<id>", "VPS task id")
    .argument("[timestamp]", "snapshot timestamp from 'vps snapshot list'")
    .option("--no-wait", "return at once instead of waiting until the VPS runs")
    .option("--wait-timeout <seconds>", "seconds to wait for the VPS to run", "900")
    .action(
      async (
        taskId: string,
        timestamp: string | undefined,
        options: { wait: boolean; waitTimeout: string },
        command: Command,
      ) => {
        const id = checkTaskId(taskId);
        const query = timestamp === undefined ? "" : `?snapshot=${checkTimestamp(timestamp)}`;
        const timeoutSeconds = parseInteger(options.waitTimeout, "--wait-timeout", 1, "seconds");
        const client = createClient(command, runtime);
        const response = await client.request<{ message: string }>("POST", `/api/vps/restart/${id}${query}`);
        runtime.output.line(response.message);
        if (!options.wait) return;
        const ready = await waitUntilRunning(runtime, client, id, timeoutSeconds, true);
        runtime.output.line(`VPS ${ready.task_id} is running on ${ready.assigned_node ?? "?"}.`);
      },
    );
}
