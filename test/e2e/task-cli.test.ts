/**
 * Command tasks end to end: a host and a runner as separate processes, the real CLI and the real Docker
 * Engine with the locally built base image.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import { formatCpuList } from "../../packages/runner/src/probes/cpu-list.js";
import { docker, waitFor, useCluster, dockerSkip } from "./harness.js";

describe("command tasks through the CLI", { skip: dockerSkip }, () => {
  const { cluster, node: nodeName } = useCluster();
  let node = "";
  before(() => {
    node = nodeName();
  });

  it("submit --wait exits with the task's exit code and keeps both logs", async () => {
    const submitted = await cluster.cli([
      "task",
      "submit",
      "-t",
      node,
      "-c",
      "1",
      "-m",
      "256M",
      "--wait",
      "--",
      "sh",
      "-c",
      "echo out; echo err >&2; exit 3",
    ]);
    assert.equal(submitted.code, 3, `stdout: ${submitted.stdout}\nstderr: ${submitted.stderr}`);
    const taskId = /\d{15,20}/.exec(submitted.stdout + submitted.stderr)?.[0];
    assert.ok(taskId, `no task id in output: ${submitted.stdout}`);

    const stdout = await cluster.cli(["task", "logs", taskId]);
    assert.equal(stdout.code, 0);
    assert.equal(stdout.stdout.trim(), "out");

    const stderr = await cluster.cli(["task", "logs", "-e", taskId]);
    assert.equal(stderr.stdout.trim(), "err");

    const status = await cluster.cli(["task", "status", taskId, "--json"]);
    const task = JSON.parse(status.stdout) as { status: string; exit_code: number; assigned_node: string };
    assert.equal(task.status, "failed");
    assert.equal(task.exit_code, 3);
    assert.equal(task.assigned_node, node);
  });

  it("a task over its memory limit ends killed_oom", async () => {
    const submitted = await cluster.cli([
      "task",
      "submit",
      "-t",
      node,
      "-m",
      "32M",
      "--wait",
      "--",
      "sh",
      "-c",
      "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    const taskId = /\d{15,20}/.exec(submitted.stdout + submitted.stderr)?.[0] as string;
    const task = await cluster.client.getTask(taskId);
    assert.equal(task.status, "killed_oom", `${task.status}: ${task.error_message}`);
    assert.equal(submitted.code, 137);
    assert.match(task.error_message ?? "", /memory/i);
  });

  it("runs with the shared mounts, working directory and task environment", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: [
        "-c",
        'pwd; echo "$KOHAKURIVER_TASK_ID $GREETING"; echo shared > /shared/mounts-check; ls -d /local_temp',
      ],
      shell: false,
      targets: [node],
      env_vars: { GREETING: "hello world" },
    });
    const taskId = task_ids[0] as string;
    const task = await cluster.waitForStatus(taskId, ["completed", "failed"]);
    assert.equal(task.status, "completed", task.error_message ?? "");
    assert.equal(await cluster.client.getLog(taskId, "stdout"), `/shared\n${taskId} hello world\n/local_temp\n`);
    assert.equal(readFileSync(join(cluster.sharedDir, "shared_data", "mounts-check"), "utf8"), "shared\n");
  });

  it("binds a NUMA target with cpuset and passes limits to Docker", async () => {
    const numa = (await cluster.client.listNodes()).find((entry) => entry.hostname === node)?.numa_topology;
    assert.ok(numa, "this machine reports no NUMA topology");
    assert.ok(numa["0"], "this machine reports no NUMA node 0");
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "echo $KOHAKURIVER_TARGET_NUMA_NODE; sleep 30"],
      shell: false,
      targets: [`${node}:0`],
      required_cores: 1,
      required_memory_bytes: "128M",
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
    const [container] = await cluster.containers(taskId);
    const info = await docker.getContainer(container?.Id as string).inspect();
    assert.equal(info.HostConfig.CpusetCpus, formatCpuList(numa["0"].cores));
    assert.equal(info.HostConfig.CpusetMems, "0");
    assert.equal(info.HostConfig.NanoCpus, 1e9);
    assert.equal(info.HostConfig.Memory, 128e6);
    assert.equal(info.Config.Labels["kohakuriver.task_id"], taskId);
    assert.equal(info.Config.Labels["kohakuriver.task_type"], "command");
    await cluster.client.kill(taskId);
  });

  it("a SIGKILL that is not the memory limit is not killed_oom", async () => {
    // PID 1 ignores signals it has no handler for, so a child is killed and the shell passes on its status.
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "sleep 60 & kill -9 $!; wait $!"],
      shell: false,
      targets: [node],
    });
    const task = await cluster.waitForStatus(task_ids[0] as string, ["failed", "killed_oom", "completed"]);
    assert.equal(task.status, "failed");
    assert.equal(task.exit_code, 137);
  });

  it("kill ends a running task within 2 s and removes its container", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sleep",
      arguments: ["600"],
      shell: false,
      targets: [node],
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
    assert.equal((await cluster.containers(taskId)).length, 1);

    const started = Date.now();
    const killed = await cluster.cli(["task", "kill", taskId]);
    assert.equal(killed.code, 0, killed.stderr);
    await cluster.waitForStatus(taskId, "killed", 2000);
    await waitFor(
      async () => (await cluster.containers(taskId)).length === 0,
      2000 - (Date.now() - started),
      "container still present",
    );
    assert.ok(Date.now() - started <= 2000, `kill took ${Date.now() - started} ms`);
  });

  it("killing a finished task is a conflict that says why", async () => {
    const { task_ids } = await cluster.client.submit({ command: "true", shell: false, targets: [node] });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "completed");
    const result = await cluster.cli(["task", "kill", taskId]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already completed/);
  });

  it("pause keeps a task's resources and resume continues it", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "sleep 2; echo done"],
      shell: false,
      targets: [node],
      required_cores: 2,
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
    assert.equal((await cluster.cli(["task", "pause", taskId])).code, 0);
    assert.equal((await cluster.client.getTask(taskId)).status, "paused");

    const nodes = await cluster.client.listNodes();
    assert.equal(nodes.find((entry) => entry.hostname === node)?.cores_in_use, 2);
    const [container] = await cluster.containers(taskId);
    assert.equal(container?.State, "paused");

    assert.equal((await cluster.cli(["task", "resume", taskId])).code, 0);
    const finished = await cluster.waitForStatus(taskId, "completed", 20_000);
    assert.equal(finished.exit_code, 0);
  });

  it("full-node tasks run in submission order", async () => {
    const total = (await cluster.client.listNodes()).find((entry) => entry.hostname === node)?.total_cores as number;
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const { task_ids } = await cluster.client.submit({
        command: "sh",
        arguments: ["-c", `date +%s%N > /shared/order-${cluster.id}-${index}; sleep 1`],
        shell: false,
        targets: [node],
        required_cores: total,
      });
      ids.push(task_ids[0] as string);
    }

    await cluster.waitForStatus(ids[0] as string, "running");
    const waiting = await Promise.all(ids.slice(1).map((id) => cluster.client.getTask(id)));
    assert.deepEqual(
      waiting.map((task) => task.status),
      ["pending", "pending"],
    );

    const finished = await Promise.all(ids.map((id) => cluster.waitForStatus(id, "completed", 60_000)));
    const starts = finished.map((task) => Date.parse(task.started_at as string));
    const ends = finished.map((task) => Date.parse(task.completed_at as string));
    assert.ok(starts[0]! <= starts[1]!, `start order ${starts.join(", ")}`);
    assert.ok(starts[1]! <= starts[2]!, `start order ${starts.join(", ")}`);
    assert.ok(
      ends[0]! <= starts[1]! + 1000 && ends[1]! <= starts[2]! + 1000,
      "a task started before the previous one ended",
    );
  });

  it("a request larger than any node is rejected at once with the node's capacity", async () => {
    const result = await cluster.cli(["task", "submit", "-c", "4096", "--", "true"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /required_cores/);
    assert.match(result.stderr, new RegExp(`largest node is ${node} with \\d+ cores?`));
  });
});
