/**
 * A runner killed with SIGKILL and started again: its containers keep running and are re-adopted, never
 * restarted, and every task ends with its real exit code and complete logs.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import { TestCluster, docker, useCluster, dockerSkip } from "./harness.js";

async function containerStart(
  cluster: TestCluster,
  taskId: string,
): Promise<{ startedAt: string; restartCount: number }> {
  const [container] = await cluster.containers(taskId);
  assert.ok(container, `no container for task ${taskId}`);
  const info = await docker.getContainer(container.Id).inspect();
  return { startedAt: info.State.StartedAt, restartCount: info.RestartCount };
}

describe("runner restart", { skip: dockerSkip }, () => {
  const { cluster, node: nodeName } = useCluster();
  let node = "";
  before(() => {
    node = nodeName();
  });

  it("re-adopts a running task without restart", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "echo before; sleep 20; echo after; exit 7"],
      shell: false,
      targets: [node],
    });
    const taskId = task_ids[0] as string;
    const running = await cluster.waitForStatus(taskId, "running");
    const first = await containerStart(cluster, taskId);

    await cluster.killRunner(0, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await cluster.startRunner(0);

    const second = await containerStart(cluster, taskId);
    assert.equal(second.startedAt, first.startedAt, "the container was started again");
    assert.equal(second.restartCount, 0);

    const finished = await cluster.waitForStatus(taskId, ["failed", "completed", "killed", "killed_oom"], 60_000);
    assert.equal(finished.status, "failed");
    assert.equal(finished.exit_code, 7);
    assert.equal(finished.started_at, running.started_at);
    assert.equal(await cluster.client.getLog(taskId, "stdout"), "before\nafter\n");
    assert.deepEqual(await cluster.containers(taskId), [], "finished container was not removed");
  });

  it("exits on SIGTERM while a task runs", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sleep",
      arguments: ["60"],
      targets: [node],
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");

    const started = Date.now();
    await cluster.killRunner(0, "SIGTERM");
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 10, `the runner took ${seconds} s to exit after SIGTERM`);
    assert.equal((await cluster.containers(taskId)).length, 1, "the task's container did not keep running");

    await cluster.startRunner(0);
    await cluster.client.kill(taskId);
    await cluster.waitForStatus(taskId, "killed");
  });

  it("reports an exit while the runner was down", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "sleep 1; echo finished; exit 5"],
      shell: false,
      targets: [node],
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
    await cluster.killRunner(0, "SIGKILL");

    // Long enough for the task to finish and for the host to declare the node offline (4 s).
    await cluster.waitForNode(node, "offline", 15_000);
    assert.equal((await cluster.client.getTask(taskId)).status, "lost");
    await cluster.startRunner(0);

    const finished = await cluster.waitForStatus(taskId, ["failed", "completed"], 30_000);
    assert.equal(finished.status, "failed");
    assert.equal(finished.exit_code, 5);
    assert.equal(await cluster.client.getLog(taskId, "stdout"), "finished\n");
  });

  it("survives ten SIGKILLs while tasks run: no container restarts, every exit code real", async () => {
    const marker = `starts-${cluster.id}`;
    const exitCodes = [0, 3, 0, 9];
    const ids: string[] = [];
    for (const code of exitCodes) {
      const { task_ids } = await cluster.client.submit({
        command: "sh",
        arguments: ["-c", `echo "$KOHAKURIVER_TASK_ID" >> /shared/${marker}; sleep 12; exit ${code}`],
        shell: false,
        targets: [node],
        required_cores: 0,
      });
      ids.push(task_ids[0] as string);
    }

    await Promise.all(ids.map((id) => cluster.waitForStatus(id, "running")));
    // Each restart waits for the new process's first heartbeat, so the node never goes offline meanwhile.
    for (let round = 0; round < 10; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await cluster.killRunner(0, "SIGKILL");
      await cluster.startRunner(0);
    }

    // `lost` is not final (the runner may still report the real status), so wait for a terminal status.
    const finished = await Promise.all(
      ids.map((id) => cluster.waitForStatus(id, ["completed", "failed", "killed", "killed_oom"], 60_000)),
    );
    assert.deepEqual(
      finished.map((task) => task.exit_code),
      exitCodes,
      finished.map((task) => `${task.status}: ${task.error_message}`).join("; "),
    );
    const starts = readFileSync(join(cluster.sharedDir, "shared_data", marker), "utf8")
      .trim()
      .split("\n")
      .sort();
    assert.deepEqual(starts, [...ids].sort(), "each task must have started exactly once");
  });
});
