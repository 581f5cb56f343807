/**
 * A node whose runner stops sending heartbeats goes offline within the timeout, and its tasks become
 * `lost`. When the runner comes back still running them, they return to `running` and finish normally.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { TestCluster, dockerSkip } from "./harness.js";

describe("node offline and back", { skip: dockerSkip }, () => {
  const cluster = new TestCluster();
  let node = "";

  before(async () => {
    await cluster.startHost();
    node = await cluster.startRunner(0);
  });
  after(async () => {
    cluster.signalRunner(0, "SIGCONT");
    await cluster.cleanup();
  });

  it("loses and recovers a frozen runner's task", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "sleep 12; echo done"],
      shell: false,
      targets: [node],
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");

    const frozenAt = Date.now();
    cluster.signalRunner(0, "SIGSTOP");
    await cluster.waitForNode(node, "offline", 15_000);
    // Interval 1 s × factor 4: offline after 4 s of silence, checked every 0.5 s.
    assert.ok(Date.now() - frozenAt < 8000, `offline only after ${Date.now() - frozenAt} ms`);
    const lost = await cluster.waitForStatus(taskId, "lost", 5000);
    assert.match(lost.error_message ?? "", /offline/);

    cluster.signalRunner(0, "SIGCONT");
    await cluster.waitForNode(node, "online", 15_000);
    await cluster.waitForStatus(taskId, "running", 10_000);

    const finished = await cluster.waitForStatus(taskId, ["completed", "failed", "killed"], 30_000);
    assert.equal(finished.status, "completed");
    assert.equal(finished.exit_code, 0);
    assert.equal(await cluster.client.getLog(taskId, "stdout"), "done\n");
  });
});
