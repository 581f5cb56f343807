/**
 * Access control of every route. The test reads the host's own route table, so a route added later is
 * checked without a change here. Each route is called as every role, an anonymous caller, a disabled
 * account, a revoked token, the admin secret and the cluster token, and must get the response that ROUTE_POLICIES calls for.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { openWebSocket, WebSocketRefusedError } from "@kohakuriver/access";
import { ForbiddenError, NotFoundError, UnauthorizedError, isRoleAtLeast, type Role } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";
import bcrypt from "bcrypt";
import Fastify from "fastify";

import { resolveHostConfig } from "../config.js";
import { startHost, type HostHandle } from "../host.js";
import { makeTaskRecord } from "../store/task-record.fixture.js";
import type { TaskRecord } from "../store/types.js";
import { authorizeTaskUse, installAccessControl, MissingRoutePolicyError } from "./access-control.js";
import { hashApiToken, newSecret } from "./credentials.js";
import { policyFor, policyKey, ROUTE_POLICIES, type RoutePolicy } from "./policy.js";

const ADMIN_SECRET = "admin-secret-for-tests-0123456789";

interface Caller {
  name: string;
  headers: Record<string, string>;
  /** The role the host should see, or null for callers that must be treated as anonymous. */
  role: Role | null;
  /** True for the caller that presents the cluster token. */
  cluster?: boolean;
  /** The account id, for callers that own tasks. */
  accountId?: number;
}

const silent = createLogger({ name: "host", level: "silent" });

/** Bodies that pass access control and then fail validation or target nothing, so a request changes no fixture. */
const BODIES: Record<string, unknown> = {
  "POST /api/auth/invitations": { role: "viewer", max_usage: 1, expires_hours: 1 },
};

function concretePath(url: string, taskId: string): string {
  return url
    .replace(":task_id", taskId)
    .replace(":hostname", "no-such-node")
    .replace(":container_name", "no-such-env")
    .replace(":port", "8080")
    .replace(":command", "pause")
    .replace(/:(id|user_id)/g, "999999")
    .replace("*", "swagger-ui.css");
}

async function call(
  host: HostHandle,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  websocket = false,
): Promise<{ status: number; text: string }> {
  if (websocket) return upgrade(`${host.url.replace(/^http/, "ws")}${path}`, headers);
  const send = method !== "GET" && method !== "HEAD" && method !== "DELETE";
  const response = await fetch(`${host.url}${path}`, {
    method,
    headers: { ...headers, ...(send ? { "content-type": "application/json" } : {}) },
    body: send ? JSON.stringify(body ?? {}) : undefined,
  });
  return { status: response.status, text: method === "HEAD" ? "" : await response.text() };
}

/** Opens a WebSocket as a client would: 101 when the upgrade is accepted, else the refusal's status. */
async function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  try {
    const socket = await openWebSocket(url, { headers });
    socket.terminate();
    return { status: 101, text: "" };
  } catch (error) {
    if (error instanceof WebSocketRefusedError) return { status: error.status, text: error.detail };
    throw error;
  }
}

/** Returns the expected outcome: "allow", or the status of the refusal. */
function expectedOutcome(policy: RoutePolicy, caller: Caller, taskOwnerId: number | null): "allow" | 401 | 403 {
  if (policy.access === "cluster") return caller.cluster === true ? "allow" : 401;
  if (policy.access === "public") return "allow";
  if (policy.access === "role" && policy.runners === true && caller.cluster === true) return "allow";
  if (caller.role === null) return 401;
  if (!isRoleAtLeast(caller.role, policy.role)) return 403;
  if (policy.access === "task" && !isRoleAtLeast(caller.role, policy.anyTaskRole)) {
    return caller.accountId !== undefined && caller.accountId === taskOwnerId ? "allow" : 403;
  }
  return "allow";
}

describe("access control with authentication enabled", () => {
  let dir: string;
  let host: HostHandle;
  const callers: Caller[] = [];
  let otherUserTask: TaskRecord;
  let userCaller: Caller;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kr-access-"));
    const config = resolveHostConfig({
      HOST_BIND_IP: "127.0.0.1",
      HOST_PORT: 0,
      HOST_SSH_PROXY_PORT: 0,
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      DB_FILE: join(dir, "kohakuriver.db"),
      SHARED_DIR: join(dir, "shared"),
      AUTH_ENABLED: true,
      ADMIN_SECRET,
    });
    host = await startHost({ config, logger: silent });
    const auth = host.store.auth;
    // A low bcrypt cost keeps the set-up fast; verification reads the cost from the hash.
    const passwordHash = await bcrypt.hash("password-123", 4);

    async function account(username: string, role: Role, active = true): Promise<{ id: number; token: string }> {
      const user = await auth.createUser({
        username,
        display_name: null,
        password_hash: passwordHash,
        is_active: active,
        role,
      });
      const token = newSecret();
      await auth.createToken({
        user_id: user.id,
        token_hash: hashApiToken(token),
        name: "test",
        created_at: new Date().toISOString(),
      });
      return { id: user.id, token };
    }

    callers.push({ name: "anonymous", headers: {}, role: null });
    for (const role of ["viewer", "user", "operator", "admin"] as const) {
      const { id, token } = await account(`${role}-account`, role);
      const caller: Caller = { name: role, headers: { authorization: `Bearer ${token}` }, role, accountId: id };
      callers.push(caller);
      if (role === "user") userCaller = caller;
    }

    const disabled = await account("disabled-admin", "admin", false);
    callers.push({ name: "disabled account", headers: { authorization: `Bearer ${disabled.token}` }, role: null });

    const revokedUser = await account("revoked-admin", "admin");
    const [revokedToken] = await auth.listTokens(revokedUser.id);
    assert.ok(revokedToken !== undefined);
    assert.equal(await auth.deleteToken(revokedToken.id, revokedUser.id), true);
    callers.push({ name: "revoked token", headers: { authorization: `Bearer ${revokedUser.token}` }, role: null });

    callers.push({ name: "X-Admin-Token", headers: { "x-admin-token": ADMIN_SECRET }, role: "admin" });
    callers.push({ name: "wrong X-Admin-Token", headers: { "x-admin-token": "not-the-secret" }, role: null });
    callers.push({
      name: "cluster token",
      headers: { authorization: `Bearer ${host.clusterToken}` },
      role: null,
      cluster: true,
    });

    const other = await account("other-user", "user");
    otherUserTask = makeTaskRecord({ owner_id: other.id, status: "pending_approval" });
    await host.store.insertTasks([otherUserTask]);
  });

  after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every registered route has a policy", () => {
    assert.ok(host.routes.length >= Object.keys(ROUTE_POLICIES).length, "fewer routes than policies");
    const missing = host.routes.filter((route) => policyFor(route.method, route.url) === undefined);
    assert.deepEqual(missing, [], "routes without an entry in ROUTE_POLICIES");
  });

  it("every policy names a registered route", () => {
    const registered = new Set(host.routes.map((route) => policyKey(route.method, route.url)));
    const stale = Object.keys(ROUTE_POLICIES).filter((key) => !registered.has(key));
    assert.deepEqual(stale, [], "entries in ROUTE_POLICIES for routes the server does not register");
  });

  it("every route and caller gets what the policy says", async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of host.routes) {
      const policy = policyFor(route.method, route.url) as RoutePolicy;
      const path = concretePath(route.url, otherUserTask.task_id);
      const body = BODIES[`${route.method} ${route.url}`];
      for (const caller of callers) {
        const expected = expectedOutcome(policy, caller, otherUserTask.owner_id);
        const response = await call(host, route.method, path, caller.headers, body, route.websocket);
        checked += 1;
        const refused = response.status === 401 || response.status === 403;
        const ok = expected === "allow" ? !refused : response.status === expected;
        if (!ok) {
          failures.push(
            `${route.method} ${route.url} as ${caller.name}: expected ${expected}, got ${response.status} ${response.text.slice(0, 160)}`,
          );
        }
        if (response.status >= 500) failures.push(`${route.method} ${path} as ${caller.name}: ${response.status}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(checked >= host.routes.length * callers.length);
  });

  it("owner passes task routes on own task", async () => {
    const own = makeTaskRecord({ owner_id: userCaller.accountId as number, status: "pending_approval" });
    await host.store.insertTasks([own]);
    const taskRoutes = host.routes.filter((route) => policyFor(route.method, route.url)?.access === "task");
    assert.ok(taskRoutes.length >= 4, "expected the log, kill and pause routes to be task routes");

    for (const route of taskRoutes) {
      const response = await call(
        host,
        route.method,
        concretePath(route.url, own.task_id),
        userCaller.headers,
        undefined,
        route.websocket,
      );
      assert.ok(
        response.status !== 401 && response.status !== 403,
        `${route.method} ${route.url} on own task: ${response.status} ${response.text}`,
      );
    }
  });

  it("VPS assignee passes task routes", async () => {
    const vps = makeTaskRecord({ task_type: "vps", status: "running", owner_id: null });
    await host.store.insertTasks([vps]);
    const route = "/api/tasks/:task_id/stdout";
    const before = await call(host, "GET", concretePath(route, vps.task_id), userCaller.headers);
    assert.equal(before.status, 403, before.text);

    await host.store.auth.assignVps(vps.task_id, [userCaller.accountId as number], new Date().toISOString());
    const assigned = await call(host, "POST", `/api/kill/${vps.task_id}`, userCaller.headers);
    assert.notEqual(assigned.status, 401, assigned.text);
    assert.notEqual(assigned.status, 403, assigned.text);
  });

  it("task use outside HTTP follows the rule", async () => {
    const options = { config: host.config, clusterToken: host.clusterToken, store: host.store, logger: silent };
    const own = makeTaskRecord({ owner_id: userCaller.accountId as number });
    await host.store.insertTasks([own]);
    const tokenOf = (name: string) =>
      callers.find((caller) => caller.name === name)?.headers.authorization?.replace("Bearer ", "");

    assert.equal((await authorizeTaskUse(options, tokenOf("user"), own.task_id)).username, "user-account");
    assert.equal((await authorizeTaskUse(options, tokenOf("operator"), otherUserTask.task_id)).role, "operator");
    await assert.rejects(authorizeTaskUse(options, tokenOf("user"), otherUserTask.task_id), ForbiddenError);
    await assert.rejects(authorizeTaskUse(options, tokenOf("viewer"), own.task_id), ForbiddenError);
    await assert.rejects(authorizeTaskUse(options, tokenOf("revoked token"), own.task_id), UnauthorizedError);
    await assert.rejects(authorizeTaskUse(options, undefined, own.task_id), UnauthorizedError);
    await assert.rejects(authorizeTaskUse(options, tokenOf("admin"), "12345"), NotFoundError);
  });

  it("401 carries WWW-Authenticate", async () => {
    const response = await fetch(`${host.url}/api/nodes`);
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
  });
});

describe("access control with authentication disabled", () => {
  let dir: string;
  let host: HostHandle;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kr-access-off-"));
    const config = resolveHostConfig({
      HOST_BIND_IP: "127.0.0.1",
      HOST_PORT: 0,
      HOST_SSH_PROXY_PORT: 0,
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      DB_FILE: join(dir, "kohakuriver.db"),
      SHARED_DIR: join(dir, "shared"),
    });
    host = await startHost({ config, logger: silent });
  });

  after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("only runner routes need a token", async () => {
    const failures: string[] = [];
    for (const route of host.routes) {
      const policy = policyFor(route.method, route.url) as RoutePolicy;
      const response = await call(
        host,
        route.method,
        concretePath(route.url, "1"),
        {},
        BODIES[`${route.method} ${route.url}`],
        route.websocket,
      );
      const refused = response.status === 401 || response.status === 403;
      if (refused !== (policy.access === "cluster")) {
        failures.push(`${route.method} ${route.url}: ${response.status} ${response.text.slice(0, 160)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe("policy table", () => {
  it("pins the rules that protect the cluster", () => {
    const pinned: Record<string, RoutePolicy> = {
      "POST /api/register": { access: "cluster" },
      "PUT /api/heartbeat/:hostname": { access: "cluster" },
      "POST /api/update": { access: "cluster" },
      "POST /api/submit": { access: "role", role: "user" },
      "POST /api/approve/:task_id": { access: "role", role: "operator" },
      "POST /api/reject/:task_id": { access: "role", role: "operator" },
      "GET /api/audit": { access: "role", role: "admin" },
      "PATCH /api/auth/users/:id": { access: "role", role: "admin" },
      "GET /api/nodes": { access: "role", role: "viewer" },
      "POST /api/kill/:task_id": { access: "task", role: "user", anyTaskRole: "operator" },
    };
    for (const [key, policy] of Object.entries(pinned)) assert.deepEqual(ROUTE_POLICIES[key], policy, key);
  });

  it("rejects a route without an entry", () => {
    const app = Fastify();
    installAccessControl(app, {
      config: { AUTH_ENABLED: true, ADMIN_SECRET: "" },
      clusterToken: "x".repeat(64),
      store: {} as never,
      logger: silent,
    });
    assert.throws(
      () => app.get("/api/not-in-the-table", async () => "open"),
      (error: unknown) => {
        assert.ok(error instanceof MissingRoutePolicyError);
        assert.match(error.message, /GET \/api\/not-in-the-table/);
        assert.match(error.message, /ROUTE_POLICIES/);
        return true;
      },
    );
  });
});
