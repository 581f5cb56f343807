/**
 * The link between host and runners. The cluster token is required both ways. A runner started before its
 * host keeps registering until the host responds. A host that lost its node records (a new database) gets
 * the runner back through re-registration.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { TestCluster, freePort, dockerSkip } from "./harness.js";

async function status(url: string, method: string, body: unknown, token?: string): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method, headers, body: JSON.stringify(body) });
  await response.text();
  return response.status;
}

describe("host and runner link", { skip: dockerSkip }, () => {
  const cluster = new TestCluster();
  let node = "";
  let token = "";

  before(async () => {
    cluster.hostPort = await freePort();
    // An admin copies the token to the node before starting its runner; the host keeps using this file.
    token = randomBytes(32).toString("hex");
    mkdirSync(join(cluster.dir, "host"), { recursive: true });
    writeFileSync(join(cluster.dir, "host", "cluster-token"), `${token}\n`, { mode: 0o600 });
    // The runner starts first and must keep trying until the host is up.
    const runnerStarted = cluster.startRunner(0);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await cluster.startHost();
    node = await runnerStarted;
  });
  after(async () => {
    await cluster.cleanup();
  });

  it("registers a runner that started before the host", async () => {
    const nodes = await cluster.client.listNodes();
    assert.equal(nodes.find((entry) => entry.hostname === node)?.status, "online");
  });

  const runnerFacing: Array<[string, string, unknown]> = [
    ["POST", "/api/register", { hostname: "intruder", url: "http://127.0.0.1:9", total_cores: 64 }],
    ["PUT", "/api/heartbeat/intruder", { running_tasks: [] }],
    ["POST", "/api/update", { task_id: "1", status: "completed", exit_code: 0 }],
  ];
  for (const [method, path, body] of runnerFacing) {
    it(`host rejects ${method} ${path} without the cluster token`, async () => {
      assert.equal(await status(`${cluster.client.baseUrl}${path}`, method, body), 401);
      assert.equal(await status(`${cluster.client.baseUrl}${path}`, method, body, "0".repeat(64)), 401);
    });
  }

  it("never lists a node registered without the token", async () => {
    const nodes = await cluster.client.listNodes();
    assert.equal(
      nodes.some((entry) => entry.hostname === "intruder"),
      false,
    );
  });

  const runnerRoutes: Array<[string, unknown]> = [
    ["/api/execute", { task_id: "1", command: "true", docker_image_name: "kohakuriver/kohakuriver-base:base" }],
    ["/api/kill", { task_id: "1" }],
    ["/api/pause", { task_id: "1" }],
  ];
  for (const [path, body] of runnerRoutes) {
    it(`runner rejects ${path} without the cluster token`, async () => {
      const runnerUrl = (await cluster.client.listNodes()).find((entry) => entry.hostname === node)?.url as string;
      assert.equal(await status(`${runnerUrl}${path}`, "POST", body), 401);
      assert.equal(await status(`${runnerUrl}${path}`, "POST", body, "f".repeat(64)), 401);
    });
  }

  it("accepts the host's own token on the runner", async () => {
    const runnerUrl = (await cluster.client.listNodes()).find((entry) => entry.hostname === node)?.url as string;
    assert.equal(await status(`${runnerUrl}/api/kill`, "POST", { task_id: "1" }, token), 200);
  });

  it("registers again with a host that lost its database", async () => {
    await cluster.killHost("SIGKILL");
    for (const suffix of ["", "-wal", "-shm"])
      rmSync(join(cluster.dir, "host", `kohakuriver.db${suffix}`), { force: true });
    await cluster.startHost();
    await cluster.waitForNode(node, "online", 15_000);

    const { task_ids } = await cluster.client.submit({ command: "true", shell: false, targets: [node] });
    const task = await cluster.waitForStatus(task_ids[0] as string, ["completed", "failed"]);
    assert.equal(task.status, "completed");
  });
});
