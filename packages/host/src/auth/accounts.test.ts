/**
 * Accounts against a real host with authentication on: tokens (revocation, rows in the original's
 * format), sessions, registration, invitations, role changes, login throttling and the audit log.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { HostClient, KohakuRiverError, type AuditEntry } from "@kohakuriver/api";
import { ConfigError, createLogger } from "@kohakuriver/common";
import bcrypt from "bcrypt";

import { resolveHostConfig } from "../config.js";
import { startHost, type HostHandle } from "../host.js";
import { makeTaskRecord } from "../store/task-record.fixture.js";
import { hashApiToken } from "./credentials.js";

const silent = createLogger({ name: "host", level: "silent" });
const ADMIN_SECRET = "admin-secret-for-account-tests-0123";
const REGISTER_SECRET = "register-secret-for-account-tests-0123";

/** An API token and its SHA3-512 hex digest, computed with Python's hashlib.sha3_512 as the original does. */
const ORIGINAL_TOKEN = "0f3c9a4d1e2b7c6a5f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a";
const ORIGINAL_TOKEN_HASH =
  "6d4b8db17a95dca99066ef8380728342d841dd668819541682c5dd053593593502d0a0e77fe7a74b579d18bd0d8b4b516994c80c0f5df92f276db3aeaff9f808";
/** A bcrypt test vector (OpenWall's): the password "U*U" hashed with cost 5. */
const ORIGINAL_PASSWORD_HASH = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

let dir: string;
let host: HostHandle;
let admin: HostClient;

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof KohakuRiverError) return error.status;
    throw error;
  }
}

async function createAccount(username: string, role: string, password = "password-123"): Promise<HostClient> {
  const user = await host.store.auth.createUser({
    username,
    display_name: null,
    password_hash: await bcrypt.hash(password, 4),
    is_active: true,
    role,
  });
  const { session } = await new HostClient({ baseUrl: host.url }).login(username, password);
  const created = await new HostClient({ baseUrl: host.url, session }).createToken("test");
  assert.ok(user.id > 0);
  return new HostClient({ baseUrl: host.url, token: created.token });
}

async function auditEntries(query: Record<string, string>): Promise<AuditEntry[]> {
  return admin.listAudit({ ...query, limit: 1000 });
}

describe("accounts", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kr-accounts-"));
    const config = resolveHostConfig({
      HOST_BIND_IP: "127.0.0.1",
      HOST_PORT: 0,
      HOST_SSH_PROXY_PORT: 0,
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      DB_FILE: join(dir, "kohakuriver.db"),
      SHARED_DIR: join(dir, "shared"),
      AUTH_ENABLED: true,
      ADMIN_SECRET,
      ADMIN_REGISTER_SECRET: REGISTER_SECRET,
    });
    // Short delays keep the throttling test fast; the counts that trigger each stage are the defaults.
    host = await startHost({ config, logger: silent, loginThrottle: { baseDelayMs: 20, maxDelayMs: 80 } });
    const registered = await new HostClient({ baseUrl: host.url }).register(REGISTER_SECRET, {
      username: "root-admin",
      password: "admin-password-1",
    });
    assert.equal(registered.user.role, "admin");
    const token = await new HostClient({ baseUrl: host.url, session: registered.session }).createToken("tests");
    admin = new HostClient({ baseUrl: host.url, token: token.token });
  });

  after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("revoked token is refused at once", async () => {
    const alice = await createAccount("alice", "user");
    const created = await alice.createToken("to-revoke");
    const revocable = new HostClient({ baseUrl: host.url, token: created.token });
    assert.equal((await revocable.me()).username, "alice");

    await revocable.revokeToken(created.id);
    await assert.rejects(revocable.me(), (error: unknown) => {
      assert.ok(error instanceof KohakuRiverError);
      assert.equal(error.status, 401);
      assert.match(error.message, /invalid or revoked API token/);
      return true;
    });
    assert.equal((await alice.me()).username, "alice", "other tokens of the account keep working");
  });

  it("token revocation is per account", async () => {
    const bob = await createAccount("bob", "user");
    const carol = await createAccount("carol", "user");
    const [bobToken] = await bob.listTokens();
    assert.ok(bobToken !== undefined);
    assert.equal(await statusOf(carol.revokeToken(bobToken.id)), 404);
    assert.equal((await bob.me()).username, "bob");
  });

  it("original token and password rows work", async () => {
    const user = await host.store.auth.createUser({
      username: "imported",
      display_name: "Imported user",
      password_hash: ORIGINAL_PASSWORD_HASH,
      is_active: true,
      role: "operator",
    });
    assert.equal(hashApiToken(ORIGINAL_TOKEN), ORIGINAL_TOKEN_HASH);
    await host.store.auth.createToken({
      user_id: user.id,
      token_hash: ORIGINAL_TOKEN_HASH,
      name: "imported",
      created_at: "2025-06-01T00:00:00Z",
    });

    const me = await new HostClient({ baseUrl: host.url, token: ORIGINAL_TOKEN }).me();
    assert.equal(me.username, "imported");
    assert.equal(me.role, "operator");
    const login = await new HostClient({ baseUrl: host.url }).login("imported", "U*U");
    assert.equal(login.user.id, user.id);
  });

  it("logout ends the session", async () => {
    await createAccount("dave", "viewer", "dave-password");
    const { session } = await new HostClient({ baseUrl: host.url }).login("dave", "dave-password");
    const client = new HostClient({ baseUrl: host.url, session });
    assert.equal((await client.me()).username, "dave");

    await client.logout();
    assert.equal(await statusOf(client.me()), 401);
  });

  it("disabled account is refused", async () => {
    const erin = await createAccount("erin", "user", "erin-password");
    const { id } = await erin.me();
    await admin.updateUser(id, { is_active: false });

    assert.equal(await statusOf(erin.me()), 401);
    assert.equal(await statusOf(new HostClient({ baseUrl: host.url }).login("erin", "erin-password")), 403);
    await admin.updateUser(id, { is_active: true });
    assert.equal((await erin.me()).username, "erin");
  });

  it("invitation creates an account once", async () => {
    const invitation = await admin.createInvitation({ role: "operator", max_usage: 1, expires_hours: 1 });
    const anonymous = new HostClient({ baseUrl: host.url });
    const first = await anonymous.register(invitation.token, { username: "frank", password: "frank-password" });
    assert.equal(first.user.role, "operator");

    const second = anonymous.register(invitation.token, { username: "grace", password: "grace-password" });
    await assert.rejects(second, (error: unknown) => {
      assert.ok(error instanceof KohakuRiverError);
      assert.equal(error.status, 400);
      assert.match(error.message, /token: the invitation has been used up/);
      return true;
    });
    assert.equal(await host.store.auth.getUserByUsername("grace"), undefined);
    assert.equal(
      await statusOf(anonymous.register("no-such-token", { username: "heidi", password: "pw-12345678" })),
      400,
    );
  });

  it("taken username stores nothing", async () => {
    const invitation = await admin.createInvitation({ role: "user", max_usage: 2 });
    const anonymous = new HostClient({ baseUrl: host.url });
    assert.equal(
      await statusOf(anonymous.register(invitation.token, { username: "alice", password: "x-password" })),
      409,
    );
    const [stored] = (await admin.listInvitations()).filter((item) => item.id === invitation.id);
    assert.equal(stored?.usage_count, 0);
  });

  it("operators invite viewers only", async () => {
    const operator = await createAccount("ivan", "operator");
    const viewerInvitation = await operator.createInvitation({ role: "viewer" });
    assert.equal(viewerInvitation.role, "viewer");
    const hoursLeft = (Date.parse(viewerInvitation.expires_at) - Date.now()) / 3_600_000;
    assert.ok(hoursLeft > 23.9, `expires in ${hoursLeft} h, expected INVITATION_EXPIRE_HOURS (24)`);
    assert.ok(hoursLeft <= 24, `expires in ${hoursLeft} h, expected INVITATION_EXPIRE_HOURS (24)`);
    assert.equal(await statusOf(operator.createInvitation({ role: "user" })), 403);
    assert.equal(await statusOf(operator.listInvitations()), 403);
  });

  it("admins cannot demote themselves", async () => {
    const me = await admin.me();
    await assert.rejects(admin.updateUser(me.id, { role: "user" }), /cannot change your own role/);
    await assert.rejects(admin.updateUser(me.id, { is_active: false }), /cannot disable your own account/);
    await assert.rejects(admin.deleteUser(me.id), /cannot delete your own account/);
  });

  it("role change is audited", async () => {
    const judy = await createAccount("judy", "viewer");
    const { id } = await judy.me();
    const updated = await admin.updateUser(id, { role: "user" });
    assert.equal(updated.role, "user");
    assert.equal((await judy.me()).role, "user", "the new role applies to the next request");

    const entries = await auditEntries({ action: "user.role_change", target: "user:judy" });
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.actor_username, "root-admin");
    assert.deepEqual(entries[0]?.detail, { from: "viewer", to: "user" });
  });

  it("privileged submissions need admin", async () => {
    const operator = await createAccount("ken", "operator");
    const privileged = operator.submit({ command: "id", privileged: true });
    await assert.rejects(privileged, (error: unknown) => {
      assert.ok(error instanceof KohakuRiverError);
      assert.equal(error.status, 403);
      assert.match(error.message, /^privileged: /);
      return true;
    });
    assert.equal(await statusOf(operator.submit({ command: "id", additional_mounts: ["/etc:/host-etc"] })), 403);
    const accepted = await admin.submit({ command: "id", privileged: true });
    assert.equal(accepted.task_ids.length, 1);
  });

  it("user submissions wait for approval", async () => {
    const user = await createAccount("lena", "user");
    const operator = await createAccount("mike", "operator");
    const [taskId] = (await user.submit({ command: "echo hi" })).task_ids;
    assert.ok(taskId !== undefined);
    const task = await user.getTask(taskId);
    assert.equal(task.status, "pending_approval");
    assert.equal(task.approval_status, "pending");
    assert.equal(task.owner_id, (await user.me()).id);
    assert.deepEqual(
      (await operator.listPendingApproval()).map((item) => item.task_id),
      [taskId],
    );
    assert.equal(await statusOf(user.approve(taskId)), 403);

    await operator.reject(taskId, "use the GPU queue");
    const rejected = await user.getTask(taskId);
    assert.equal(rejected.status, "rejected");
    assert.equal(rejected.rejection_reason, "use the GPU queue");
    assert.equal(rejected.approved_by_id, (await operator.me()).id);
    assert.equal(rejected.owner_username, "lena");
    assert.equal(rejected.approved_by_username, "mike");
    assert.equal(await statusOf(operator.approve(taskId)), 409);

    const mine = await user.listMyTasks();
    assert.deepEqual(
      mine.map((item) => item.task_id),
      [taskId],
    );
  });

  it("kill by owner is audited", async () => {
    const user = await createAccount("pete", "user");
    const [taskId] = (await user.submit({ command: "sleep 60" })).task_ids;
    assert.ok(taskId !== undefined);
    await user.kill(taskId);
    assert.equal((await user.getTask(taskId)).status, "killed");

    const kills = await auditEntries({ action: "task.kill", target: `task:${taskId}` });
    assert.equal(kills.length, 1);
    assert.equal(kills[0]?.actor_username, "pete");
  });

  it("VPS assignments add and remove", async () => {
    const vps = makeTaskRecord({ task_type: "vps", status: "running" });
    await host.store.insertTasks([vps]);
    const quinn = await createAccount("quinn", "user");
    const { id } = await quinn.me();
    const path = `/api/vps/${vps.task_id}`;

    const assigned = await admin.request<{ assigned_users: number[] }>("POST", `${path}/assign`, [id, id]);
    assert.deepEqual(assigned.assigned_users, [id]);
    const listed = await admin.request<{ assignments: Array<{ username: string }> }>("GET", `${path}/assignments`);
    assert.deepEqual(
      listed.assignments.map((entry) => entry.username),
      ["quinn"],
    );
    assert.equal(await statusOf(admin.request("POST", `${path}/assign`, [999_999])), 400);
    assert.equal(await statusOf(quinn.request("POST", `${path}/assign`, [id])), 403);

    await admin.request("DELETE", `${path}/assign/${id}`);
    assert.equal(await statusOf(admin.request("DELETE", `${path}/assign/${id}`)), 404);
    const command = makeTaskRecord();
    await host.store.insertTasks([command]);
    assert.equal(await statusOf(admin.request("GET", `/api/vps/${command.task_id}/assignments`)), 404);
  });

  it("twenty failed logins are throttled", async () => {
    await createAccount("nina", "user", "nina-password");
    const anonymous = new HostClient({ baseUrl: host.url });
    const statuses: number[] = [];
    const durations: number[] = [];
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const started = performance.now();
      statuses.push(await statusOf(anonymous.login("nina", `wrong-${attempt}`)));
      durations.push(performance.now() - started);
    }

    // The first three failures get an immediate 401, the next ones a delayed 401, and from the tenth on a 429.
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(statuses.slice(10), Array(10).fill(429));
    assert.ok((durations[3] ?? 0) >= 15, `4th attempt took ${durations[3]} ms, expected a delay`);
    assert.ok((durations[9] ?? 0) >= 70, `10th attempt took ${durations[9]} ms, expected the maximum delay`);
    assert.equal(await statusOf(anonymous.login("nina", "nina-password")), 429, "the right password is refused too");

    const response = await fetch(`${host.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "nina", password: "nina-password" }),
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get("retry-after")) > 0);

    const failed = await auditEntries({ action: "auth.login_failed", target: "user:nina" });
    assert.equal(failed.length, 10);
    assert.ok(failed.every((entry) => !entry.success && entry.ip !== null));
    const throttled = await auditEntries({ action: "auth.login_throttled", target: "user:nina" });
    assert.ok(throttled.length >= 1);
  });

  it("audit log filters and needs admin", async () => {
    const user = await createAccount("olga", "user");
    await user.submit({ command: "echo audited" });
    const submits = await auditEntries({ action: "task.submit", actor: "olga" });
    assert.equal(submits.length, 1);
    assert.equal(submits[0]?.actor_username, "olga");
    assert.match(submits[0]?.target ?? "", /^task:\d+$/);

    const logins = await auditEntries({ action: "auth.login", actor: "olga" });
    assert.equal(logins.length, 1);
    const future = await auditEntries({ action: "task.submit", since: "2999-01-01T00:00:00Z" });
    assert.equal(future.length, 0);
    assert.equal(await statusOf(user.listAudit()), 403);
    assert.equal(await statusOf(admin.listAudit({ since: "yesterday" })), 400);
  });

  it("malformed credentials get clean 4xx", async () => {
    const cases: Array<{ headers: Record<string, string>; path: string; method?: string; body?: string }> = [
      { headers: { cookie: "kohakuriver_session=%E0%A4%A" }, path: "/api/auth/me" },
      { headers: { cookie: `kohakuriver_session=${"x".repeat(5000)}` }, path: "/api/nodes" },
      { headers: { authorization: `Bearer ${"y".repeat(8000)}` }, path: "/api/nodes" },
      { headers: { authorization: "Basic dXNlcjpwYXNz" }, path: "/api/nodes" },
      { headers: { "x-admin-token": "" }, path: "/api/audit" },
      {
        headers: { "content-type": "application/json" },
        path: "/api/auth/login",
        method: "POST",
        body: JSON.stringify({ username: ["root"], password: 5 }),
      },
      {
        headers: { "content-type": "application/json" },
        path: `/api/auth/register?token=${REGISTER_SECRET}`,
        method: "POST",
        body: JSON.stringify({ username: "ab", password: "p".repeat(100) }),
      },
    ];
    for (const item of cases) {
      const response = await fetch(`${host.url}${item.path}`, {
        method: item.method ?? "GET",
        headers: item.headers,
        body: item.body,
      });
      const text = await response.text();
      assert.ok(response.status >= 400, `${item.path}: ${response.status} ${text}`);
      assert.ok(response.status < 500, `${item.path}: ${response.status} ${text}`);
      const body = JSON.parse(text) as { detail?: unknown };
      assert.equal(typeof body.detail, "string", text);
    }
    assert.equal(await host.store.auth.getUserByUsername("ab"), undefined);
  });

  it("X-Admin-Token acts as admin", async () => {
    const response = await fetch(`${host.url}/api/audit?limit=1`, { headers: { "x-admin-token": ADMIN_SECRET } });
    assert.equal(response.status, 200);
    const wrong = await fetch(`${host.url}/api/audit?limit=1`, { headers: { "x-admin-token": "wrong" } });
    assert.equal(wrong.status, 401);
  });
});

describe("host exposure check", () => {
  it("refuses 0.0.0.0 without auth", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "kr-insecure-"));
    try {
      const config = resolveHostConfig({
        HOST_BIND_IP: "0.0.0.0",
        HOST_PORT: 0,
        HOST_SSH_PROXY_PORT: 0,
        DEFAULT_CONTAINER_BOOTSTRAP: false,
        DB_FILE: join(scratch, "kohakuriver.db"),
        SHARED_DIR: join(scratch, "shared"),
      });
      await assert.rejects(startHost({ config, logger: silent }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /HOST_BIND_IP is 0\.0\.0\.0/);
        assert.match(error.message, /AUTH_ENABLED = true/);
        assert.match(error.message, /--insecure/);
        return true;
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
