/** Waiting for a VPS to run, shared by create, restart and snapshot restore. */

import type { VpsResponse } from "@kohakuriver/api";
import { sleep } from "@kohakuriver/common";

import type { createClient, CliRuntime } from "../../context.js";
import { CliError } from "../../errors.js";

const ACTIVE = new Set(["pending", "assigning", "running", "paused", "lost"]);

/** Polls the VPS until it runs; fails with the host's message when it ends or the time is up. */
export async function waitUntilRunning(
  runtime: CliRuntime,
  client: ReturnType<typeof createClient>,
  taskId: string,
  timeoutSeconds: number,
  showProgress: boolean,
): Promise<VpsResponse> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const progress = showProgress ? runtime.output.progress(`waiting for VPS ${taskId}`) : null;
  try {
    for (;;) {
      const item = await client.request<VpsResponse>("GET", `/api/vps/status/${taskId}`);
      if (item.status === "running") return item;
      if (!ACTIVE.has(item.status)) {
        throw new CliError(`VPS ${taskId} is ${item.status}: ${item.error_message ?? "no message"}`);
      }
      progress?.update(
        item.status === "pending"
          ? `VPS ${taskId} is queued for a node`
          : `VPS ${taskId} is starting on ${item.assigned_node ?? "its node"} (setting up sshd)`,
      );
      if (Date.now() > deadline) {
        throw new CliError(
          `VPS ${taskId} is still ${item.status} after ${timeoutSeconds} s; check it later with 'kohakuriver vps status ${taskId}'`,
        );
      }
      await sleep(1000);
    }
  } finally {
    progress?.stop();
  }
}
