/**
 * A host killed with SIGKILL while tasks run and are being submitted: after it starts again every task it
 * acknowledged exists and reaches a final status, and runs exactly once.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import { useCluster, dockerSkip } from "./harness.js";

describe("host restart", { skip: dockerSkip }, () => {
  const { cluster, node: nodeName } = useCluster();
  let node = "";
  before(() => {
    node = nodeName();
  });

  it("keeps every acknowledged task through repeated SIGKILLs and runs each once", async () => {
    const marker = `runs-${cluster.id}`;
    const acknowledged: string[] = [];
    let submitting = true;

    // Submits continuously; a submission counts only once the host has returned its task id.
    const stream = (async () => {
      while (submitting) {
        try {
          const { task_ids } = await cluster.client.submit({
            command: "sh",
            arguments: ["-c", `echo "$KOHAKURIVER_TASK_ID" >> /shared/${marker}; sleep 0.3`],
            shell: false,
            targets: [node],
            required_cores: 0,
          });
          acknowledged.push(...task_ids);
          // About ten submissions a second: enough to be mid-stream at every kill without flooding Docker.
          await new Promise((resolve) => setTimeout(resolve, 100));
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();

    for (let round = 0; round < 3; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await cluster.killHost("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.startHost();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    submitting = false;
    await stream;

    assert.ok(acknowledged.length >= 10, `only ${acknowledged.length} submissions were acknowledged`);
    const finished = await Promise.all(
      acknowledged.map((id) => cluster.waitForStatus(id, ["completed", "failed", "killed", "killed_oom"], 120_000)),
    );
    const notCompleted = finished.filter((task) => task.status !== "completed");
    assert.deepEqual(
      notCompleted.map((task) => `${task.task_id} ${task.status}: ${task.error_message}`),
      [],
    );

    const runs = readFileSync(join(cluster.sharedDir, "shared_data", marker), "utf8")
      .trim()
      .split("\n");
    const counts = new Map<string, number>();
    for (const id of runs) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual(
      [...counts.entries()].filter(([, count]) => count !== 1),
      [],
      "a task ran more than once",
    );
    const neverRan = acknowledged.filter((id) => !counts.has(id));
    assert.deepEqual(neverRan, [], "acknowledged tasks that never ran");
    // A submission stored just before a SIGKILL may have had no response: the client cannot count it, but
    // the host must still know it and have run it once.
    for (const id of counts.keys()) {
      if (acknowledged.includes(id)) continue;
      assert.equal((await cluster.client.getTask(id)).status, "completed", `unacknowledged task ${id}`);
    }
  });

  it("dispatches a task again that was still assigning when the host died", async () => {
    // With the runner down, the placement cannot be confirmed; the node stays online for 4 s meanwhile.
    await cluster.killRunner(0, "SIGKILL");
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "echo again"],
      shell: false,
      targets: [node],
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "assigning", 2000);
    await cluster.killHost("SIGKILL");

    await cluster.startHost();
    assert.equal((await cluster.client.getTask(taskId)).status, "assigning");
    await cluster.startRunner(0);
    const task = await cluster.waitForStatus(taskId, ["completed", "failed", "killed"], 30_000);
    assert.equal(task.status, "completed", task.error_message ?? "");
    assert.equal(await cluster.client.getLog(taskId, "stdout"), "again\n");
  });
});
