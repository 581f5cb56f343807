/**
 * Approval with authentication on, through the real CLI and Docker. A `user` account's task waits in
 * `pending_approval` and holds no resources, and it runs once an operator approves it. A rejected task
 * keeps its reason. A task approved while its node is offline waits in the queue until the node is back.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import { dockerSkip, useCluster, waitFor } from "./harness.js";

const ADMIN_SECRET = "e2e-admin-secret-0123456789abcdef";

describe("task approval", { skip: dockerSkip }, () => {
  const { cluster, node } = useCluster({ host: { AUTH_ENABLED: true, ADMIN_SECRET } });
  let userHome = "";
  let operatorHome = "";

  const asUser = (args: string[]) => cluster.cli(args, { env: { KOHAKURIVER_HOME: userHome } });
  const asOperator = (args: string[]) => cluster.cli(args, { env: { KOHAKURIVER_HOME: operatorHome } });

  async function submitAsUser(command: string): Promise<string> {
    const result = await asUser(["task", "submit", "-t", node(), "--", "sh", "-c", command]);
    assert.equal(result.code, 0, result.stderr);
    const taskId = /submitted task (\d+)/.exec(result.stdout)?.[1];
    assert.ok(taskId !== undefined, result.stdout);
    return taskId;
  }

  before(async () => {
    userHome = join(cluster.dir, "home-user");
    operatorHome = join(cluster.dir, "home-operator");
    for (const [role, home, username] of [
      ["user", userHome, "uma"],
      ["operator", operatorHome, "otto"],
    ] as const) {
      const invitation = await cluster.client.createInvitation({ role });
      const result = await cluster.cli(
        ["auth", "register", "--invite", invitation.token, "-u", username, "-p", `${username}-password-1`],
        { env: { KOHAKURIVER_HOME: home } },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`account ${username} \\(${role}\\) created`));
    }
  });

  it("anonymous CLI is refused", async () => {
    const result = await cluster.cli(["task", "list"], { env: { KOHAKURIVER_HOME: join(cluster.dir, "nobody") } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /authentication required/);
  });

  it("approved task runs", async () => {
    const taskId = await submitAsUser("echo approved-run");
    const waiting = await cluster.client.getTask(taskId);
    assert.equal(waiting.status, "pending_approval");
    const [entry] = (await cluster.client.listNodes()).filter((item) => item.hostname === node());
    assert.equal(entry?.cores_in_use, 0, "a task waiting for approval holds no cores");
    assert.equal((await cluster.containers(taskId)).length, 0);

    const denied = await asUser(["task", "approve", taskId]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /insufficient permissions: this needs the operator role/);

    const pending = await asOperator(["task", "pending"]);
    assert.equal(pending.code, 0, pending.stderr);
    assert.match(pending.stdout, new RegExp(taskId));
    const approved = await asOperator(["task", "approve", taskId]);
    assert.equal(approved.code, 0, approved.stderr);

    const done = await cluster.waitForStatus(taskId, "completed");
    assert.equal(done.exit_code, 0);
    assert.equal(done.approval_status, "approved");
    const logs = await asUser(["task", "logs", taskId]);
    assert.equal(logs.stdout, "approved-run\n");
  });

  it("rejected task keeps its reason", async () => {
    const taskId = await submitAsUser("echo never");
    const rejected = await asOperator(["task", "reject", taskId, "--reason", "use the night queue"]);
    assert.equal(rejected.code, 0, rejected.stderr);

    const task = await cluster.client.getTask(taskId);
    assert.equal(task.status, "rejected");
    assert.equal(task.approval_status, "rejected");
    assert.equal(task.rejection_reason, "use the night queue");
    assert.equal((await cluster.containers(taskId)).length, 0);
    const status = await asUser(["task", "status", taskId]);
    assert.match(status.stdout, /Approval +rejected by otto: use the night queue\n/);
  });

  it("approval waits for an offline node", async () => {
    const taskId = await submitAsUser("echo after-return");
    await cluster.killRunner(0);
    await cluster.waitForNode(node(), "offline");

    const approved = await asOperator(["task", "approve", taskId]);
    assert.equal(approved.code, 0, approved.stderr);
    // Two scheduling chances pass while the node is offline; the task must stay queued.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const queued = await cluster.client.getTask(taskId);
    assert.equal(queued.status, "pending");
    assert.equal(queued.assigned_node, null);

    await cluster.startRunner(0);
    await waitFor(
      async () => (await cluster.client.getTask(taskId)).status === "completed",
      60_000,
      `task ${taskId} did not complete after its node came back`,
    );
    const logs = await asUser(["task", "logs", taskId]);
    assert.equal(logs.stdout, "after-return\n");
  });
});
