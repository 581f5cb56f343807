/**
 * Environments end to end on two nodes, each a network namespace with its own Docker Engine: prepare an
 * environment on the host, publish it with the CLI, and run tasks in it. Node 0 reads tarballs from
 * shared storage, node 1 has no tarball directory and downloads them from the host.
 */

import assert from "node:assert/strict";
import { readFileSync, truncateSync, statSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { TestCluster, UNREACHABLE_REGISTRY_IMAGE, docker, dockerSkip } from "./harness.js";
import { NetnsTestBed, netnsSkipReason, type NetnsNode } from "./netns-bed.js";

const skip = dockerSkip || netnsSkipReason();

describe("environments on two nodes", { skip }, () => {
  const bed = new NetnsTestBed();
  let cluster: TestCluster;
  let nodes: NetnsNode[] = [];
  let nodeNames: string[] = [];
  let environment = "";
  const environments: string[] = [];

  before(async () => {
    await bed.start();
    nodes = [await bed.addNode(0), await bed.addNode(1)];
    cluster = new TestCluster({ hostAddress: bed.hostAddress });
    environment = `e2e-${cluster.id}`;
    environments.push(environment);
    await cluster.startHost();

    const nodeConfig = (node: NetnsNode) => ({
      RUNNER_BIND_IP: node.address,
      RUNNER_ADDRESS: node.address,
      DOCKER_SOCKET: node.dockerSocket,
    });
    nodeNames = [
      await cluster.startRunner(0, nodeConfig(nodes[0] as NetnsNode), { enter: (nodes[0] as NetnsNode).enter }),
      // A SHARED_DIR of its own, without kohakuriver-containers: this node downloads tarballs from the host.
      await cluster.startRunner(
        1,
        { ...nodeConfig(nodes[1] as NetnsNode), SHARED_DIR: join(cluster.dir, "node-1-shared") },
        { enter: (nodes[1] as NetnsNode).enter },
      ),
    ];
  });

  after(async () => {
    await cluster?.cleanup();
    await bed.cleanup();
    // The host's environment containers and images live in the machine's main engine.
    for (const name of environments) {
      await docker
        .getContainer(`kohakuriver-env-${name}`)
        .remove({ force: true })
        .catch(() => undefined);
      await docker
        .getImage(`kohakuriver/${name}:base`)
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  /** Runs a shell script in the host's environment container, as a user preparing it would. */
  async function prepare(name: string, script: string): Promise<void> {
    const exec = await docker.getContainer(`kohakuriver-env-${name}`).exec({ Cmd: ["sh", "-c", script] });
    const stream = await exec.start({});
    stream.resume();
    await new Promise((resolve) => stream.on("end", resolve));
    // The engine records the exit code shortly after the output stream ends.
    let info = await exec.inspect();
    while (info.Running) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      info = await exec.inspect();
    }
    assert.equal(info.ExitCode, 0, `script failed in kohakuriver-env-${name}: ${script}`);
  }

  async function cli(args: string[]): Promise<string> {
    const result = await cluster.cli(args, { timeoutMs: 180_000 });
    assert.equal(result.code, 0, `kohakuriver ${args.join(" ")}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    return result.stdout;
  }

  /** Runs a task on a node and returns it once finished. */
  async function runTask(
    node: number,
    script: string,
    fields: { container_name?: string; registry_image?: string } = { container_name: environment },
  ) {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", script],
      shell: false,
      required_cores: 0,
      targets: [nodeNames[node] as string],
      ...fields,
    });
    return cluster.waitForStatus(task_ids[0] as string, ["completed", "failed", "killed"], 120_000);
  }

  function loadLines(node: number, name: string): number {
    const log = readFileSync(join(cluster.dir, `runner-${node}.log`), "utf8");
    return log
      .split("\n")
      .filter((line) => line.includes('"environment image loaded"') && line.includes(`"environment":"${name}"`)).length;
  }

  it("task on each node reads a published file", async () => {
    await cli(["docker", "container", "create", "kohakuriver/kohakuriver-base:base", environment]);
    await prepare(environment, "echo v1 > /version.txt");
    const published = await cli(["docker", "tar", "create", environment]);
    assert.match(published, new RegExp(`${environment}-\\d{10,}\\.tar`));

    // Through the CLI on node 0, whose task logs are on the host's shared storage.
    const submitted = await cluster.cli(
      [
        "task",
        "submit",
        "-t",
        nodeNames[0] as string,
        "--container",
        environment,
        "--wait",
        "--",
        "cat",
        "/version.txt",
      ],
      { timeoutMs: 120_000 },
    );
    assert.equal(submitted.code, 0, `stdout: ${submitted.stdout}\nstderr: ${submitted.stderr}`);
    assert.match(submitted.stdout, /^v1$/m);
    assert.equal(loadLines(0, environment), 1);

    for (const node of [0, 1]) {
      const task = await runTask(node, 'test "$(cat /version.txt)" = v1');
      assert.equal(
        task.status,
        "completed",
        `node ${node}: ${task.error_message ?? ""}\n${cluster.logTail(`runner-${node}`)}`,
      );
      assert.equal(loadLines(node, environment), 1, `node ${node} should have loaded the environment once`);
    }
    assert.ok(
      readFileSync(join(cluster.dir, "runner-1.log"), "utf8").includes(`/api/docker/container/${environment}-`),
      "node 1 should have downloaded the tarball from the host",
    );
  });

  it("republished environment reaches the next task", async () => {
    await prepare(environment, "echo v2 > /version.txt");
    await cli(["docker", "tar", "create", environment]);

    for (const node of [0, 1]) {
      const task = await runTask(node, 'test "$(cat /version.txt)" = v2');
      assert.equal(task.status, "completed", `node ${node}: ${task.error_message ?? ""}`);
      assert.equal(loadLines(node, environment), 2);
    }
  });

  it("unchanged environment starts without a load", async () => {
    for (const node of [0, 1]) {
      const task = await runTask(node, 'test "$(cat /version.txt)" = v2');
      assert.equal(task.status, "completed", `node ${node}: ${task.error_message ?? ""}`);
      assert.equal(loadLines(node, environment), 2, `node ${node} loaded although nothing new was published`);
    }
  });

  it("tar list and docker images show the environment", async () => {
    const list = JSON.parse(await cli(["docker", "tar", "list", "--json"])) as Record<
      string,
      { all_versions: unknown[] }
    >;
    assert.equal(list[environment]?.all_versions.length, 2);

    const images = JSON.parse(await cli(["docker", "images", "--json"])) as {
      nodes: Array<{ hostname: string; images: Array<{ tags: string[] }>; error: string | null }>;
    };
    for (const name of nodeNames) {
      const node = images.nodes.find((entry) => entry.hostname === name);
      assert.equal(node?.error, null);
      assert.ok(node?.images.some((image) => image.tags.includes(`kohakuriver/${environment}:base`)));
    }
  });

  it("ten concurrent tasks load a new environment once", async () => {
    const fresh = `${environment}-b`;
    environments.push(fresh);
    await cli(["docker", "container", "create", "kohakuriver/kohakuriver-base:base", fresh]);
    await prepare(fresh, "echo fresh > /marker.txt");
    await cli(["docker", "tar", "create", fresh]);

    const tasks = await Promise.all(
      Array.from({ length: 10 }, () => runTask(0, "test -f /marker.txt", { container_name: fresh })),
    );
    for (const task of tasks) assert.equal(task.status, "completed", task.error_message ?? "");
    assert.equal(loadLines(0, fresh), 1);
  });

  it("truncated tarball fails the task and keeps the old image", async () => {
    await prepare(environment, "echo v3 > /version.txt");
    const published = JSON.parse(JSON.stringify(await cluster.client.createTarball(environment))) as {
      tarball_path: string;
    };
    const path = published.tarball_path;
    truncateSync(path, Math.floor(statSync(path).size / 2));

    const failed = await runTask(0, "true");
    assert.equal(failed.status, "failed");
    assert.ok(failed.error_message?.includes(path), `message should name ${path}: ${failed.error_message ?? ""}`);

    // With the broken version gone, the previous one (v2) is the newest and is still loaded on the node.
    rmSync(path);
    const task = await runTask(0, 'test "$(cat /version.txt)" = v2');
    assert.equal(task.status, "completed", task.error_message ?? "");
    assert.equal(loadLines(0, environment), 2);
  });

  it("progress message shows while assigning", async () => {
    // A frozen runner leaves the dispatched task `assigning`; the freeze stays well below the offline timeout.
    cluster.signalRunner(1, "SIGSTOP");
    let taskId = "";
    try {
      const { task_ids } = await cluster.client.submit({
        command: "true",
        shell: false,
        required_cores: 0,
        targets: [nodeNames[1] as string],
        container_name: environment,
      });
      taskId = task_ids[0] as string;
      await cluster.waitForStatus(taskId, "assigning", 5_000);

      const message = "Loading environment test: 50% of 2.0 MB";
      const response = await fetch(`http://${bed.hostAddress}:${cluster.hostPort}/api/update`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${readFileSync(join(cluster.dir, "host", "cluster-token"), "utf8").trim()}`,
        },
        body: JSON.stringify({ task_id: taskId, status: "assigning", message }),
      });
      assert.equal(response.status, 200);
      const during = await cluster.client.getTask(taskId);
      assert.equal(during.status, "assigning");
      assert.equal(during.error_message, message);
    } finally {
      cluster.signalRunner(1, "SIGCONT");
    }

    const finished = await cluster.waitForStatus(taskId, ["completed", "failed", "lost"], 60_000);
    assert.equal(finished.status, "completed", finished.error_message ?? "");
    assert.equal(finished.error_message, null);
  });

  it("registry image: present runs, unreachable fails", async () => {
    const present = await runTask(0, 'test "$(cat /version.txt)" = v2', {
      registry_image: `kohakuriver/${environment}:base`,
    });
    assert.equal(present.status, "completed", present.error_message ?? "");

    const missing = await runTask(0, "true", { registry_image: UNREACHABLE_REGISTRY_IMAGE });
    assert.equal(missing.status, "failed");
    assert.match(
      missing.error_message ?? "",
      /^Failed to pull image 127\.0\.0\.1:1\/kohakuriver-test\/unreachable:latest: .*connection refused/,
    );
  });
});
