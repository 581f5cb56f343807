/**
 * The host on PostgreSQL instead of SQLite: the same end-to-end path (submit, dispatch, run, report,
 * restart) with DATABASE_URL pointing at a throwaway PostgreSQL server.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  findPostgresBinaries,
  startPostgresTestServer,
  type PostgresTestServer,
} from "../../packages/host/src/store/postgres-test-server.fixture.js";
import { TestCluster, IN_CI, dockerAvailable } from "./harness.js";

const binaries = await findPostgresBinaries();
const skip =
  !IN_CI && !(await dockerAvailable())
    ? "no Docker Engine answers (set CI=true to make this a failure)"
    : !IN_CI && binaries === undefined
      ? "no PostgreSQL server binaries (set CI=true to make this a failure)"
      : false;

describe("host on PostgreSQL", { skip }, () => {
  let server: PostgresTestServer;
  let cluster: TestCluster;
  let node = "";

  before(async () => {
    assert.ok(binaries, "PostgreSQL server binaries are missing; scripts/setup.sh --with-postgres installs them");
    server = await startPostgresTestServer(binaries);
    cluster = new TestCluster({ host: { DATABASE_URL: await server.createDatabase() } });
    await cluster.startHost();
    node = await cluster.startRunner(0);
  });
  after(async () => {
    await cluster?.cleanup();
    await server?.stop();
  });

  it("runs a task and keeps its record across a host restart", async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", "echo from postgres; exit 4"],
      shell: false,
      targets: [node],
      required_memory_bytes: "64M",
    });
    const taskId = task_ids[0] as string;
    const task = await cluster.waitForStatus(taskId, ["failed", "completed"]);
    assert.equal(task.exit_code, 4);
    assert.equal(task.required_memory_bytes, 64e6);
    assert.ok(BigInt(task.task_id) > BigInt(Number.MAX_SAFE_INTEGER));

    await cluster.killHost("SIGKILL");
    await cluster.startHost();
    const reloaded = await cluster.client.getTask(taskId);
    assert.equal(reloaded.status, "failed");
    assert.equal(reloaded.exit_code, 4);
    assert.equal(await cluster.client.getLog(taskId, "stdout"), "from postgres\n");
    await cluster.waitForNode(node, "online");
  });
});
