/**
 * Conformance of the account tables: the same cases against SQLite (a temporary file) and PostgreSQL (a
 * throwaway server; skipped without its binaries, except under CI=true).
 */

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";

import { ConflictError } from "@kohakuriver/api";

import { createStore, type NewUser, type Store } from "./index.js";
import {
  findPostgresBinaries,
  startPostgresTestServer,
  type PostgresTestServer,
} from "./postgres-test-server.fixture.js";
import { makeTaskRecord } from "./task-record.fixture.js";

function newUser(username: string, role = "user"): NewUser {
  return { username, display_name: null, password_hash: "$2b$04$placeholder", is_active: true, role };
}

function describeAuthStore(name: string, open: () => Promise<Store>): void {
  describe(`${name} account tables`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
      await store.migrate();
    });

    afterEach(async () => {
      await store.close();
    });

    it("user round trip and unique names", async () => {
      const alice = await store.auth.createUser({ ...newUser("alice", "operator"), display_name: "Alice Ü" });
      assert.ok(alice.id > 0);
      assert.deepEqual(await store.auth.getUser(alice.id), alice);
      assert.deepEqual(await store.auth.getUserByUsername("alice"), alice);
      await assert.rejects(store.auth.createUser(newUser("alice")), ConflictError);

      const updated = await store.auth.updateUser(alice.id, { role: "admin", is_active: false });
      assert.equal(updated?.role, "admin");
      assert.equal(updated?.is_active, false);
      assert.equal(await store.auth.updateUser(9999, { role: "admin" }), undefined);
    });

    it("deleted user takes its rows along", async () => {
      const bob = await store.auth.createUser(newUser("bob"));
      const now = new Date().toISOString();
      await store.auth.createSession({ session_id: "s".repeat(64), user_id: bob.id, expires_at: now, created_at: now });
      const token = await store.auth.createToken({
        user_id: bob.id,
        token_hash: "a".repeat(128),
        name: "t",
        created_at: now,
      });
      const vps = makeTaskRecord({ task_type: "vps" });
      await store.insertTasks([vps]);
      await store.auth.assignVps(vps.task_id, [bob.id, bob.id], now);
      assert.equal(await store.auth.isAssignedToVps(vps.task_id, bob.id), true);

      assert.equal(await store.auth.deleteUser(bob.id), true);
      assert.equal(await store.auth.getSession("s".repeat(64)), undefined);
      assert.equal(await store.auth.getTokenByHash(token.token_hash), undefined);
      assert.equal(await store.auth.isAssignedToVps(vps.task_id, bob.id), false);
      assert.equal(await store.auth.deleteUser(bob.id), false);

      const carol = await store.auth.createUser(newUser("carol"));
      assert.ok(carol.id > bob.id, "a deleted user's id is not reused");
    });

    it("invitation use is counted atomically", async () => {
      const invitation = await store.auth.createInvitation({
        token: "i".repeat(64),
        role: "viewer",
        group_id: null,
        max_usage: 1,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        created_by_id: null,
      });
      const now = new Date().toISOString();
      const results = await Promise.allSettled([
        store.auth.createUserWithInvitation(newUser("dave", "viewer"), invitation.id, now),
        store.auth.createUserWithInvitation(newUser("erin", "viewer"), invitation.id, now),
      ]);
      assert.equal(results.filter((result) => result.status === "fulfilled").length, 1);
      assert.equal((await store.auth.getInvitationByToken("i".repeat(64)))?.usage_count, 1);
      assert.equal((await store.auth.listUsers()).length, 1, "the losing registration stored no user");

      const expired = await store.auth.createInvitation({
        token: "x".repeat(64),
        role: "user",
        group_id: null,
        max_usage: 5,
        expires_at: new Date(Date.now() - 1000).toISOString(),
        created_by_id: null,
      });
      await assert.rejects(store.auth.createUserWithInvitation(newUser("frank"), expired.id, now), ConflictError);
      assert.equal(await store.auth.getUserByUsername("frank"), undefined);
    });

    it("taken name leaves the invitation unused", async () => {
      await store.auth.createUser(newUser("grace"));
      const invitation = await store.auth.createInvitation({
        token: "g".repeat(64),
        role: "user",
        group_id: null,
        max_usage: 1,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        created_by_id: null,
      });
      await assert.rejects(
        store.auth.createUserWithInvitation(newUser("grace"), invitation.id, new Date().toISOString()),
        ConflictError,
      );
      assert.equal((await store.auth.getInvitationByToken("g".repeat(64)))?.usage_count, 0);
    });

    it("tokens belong to one user", async () => {
      const heidi = await store.auth.createUser(newUser("heidi"));
      const ivan = await store.auth.createUser(newUser("ivan"));
      const now = new Date().toISOString();
      const token = await store.auth.createToken({
        user_id: heidi.id,
        token_hash: "b".repeat(128),
        name: "laptop",
        created_at: now,
      });
      assert.equal(await store.auth.deleteToken(token.id, ivan.id), false);
      await store.auth.touchToken(token.id, now);
      assert.equal((await store.auth.getTokenByHash("b".repeat(128)))?.last_used, now);
      assert.deepEqual(
        (await store.auth.listTokens(heidi.id)).map((item) => item.name),
        ["laptop"],
      );
      assert.equal(await store.auth.deleteToken(token.id, heidi.id), true);
    });

    it("expired sessions are deleted", async () => {
      const judy = await store.auth.createUser(newUser("judy"));
      const past = new Date(Date.now() - 1000).toISOString();
      const future = new Date(Date.now() + 3_600_000).toISOString();
      await store.auth.createSession({ session_id: "old", user_id: judy.id, expires_at: past, created_at: past });
      await store.auth.createSession({ session_id: "new", user_id: judy.id, expires_at: future, created_at: past });
      assert.equal(await store.auth.deleteExpiredSessions(new Date().toISOString()), 1);
      assert.equal(await store.auth.getSession("old"), undefined);
      assert.equal((await store.auth.getSession("new"))?.user_id, judy.id);
    });

    it("audit filters combine", async () => {
      const base = Date.parse("2026-01-31T12:00:00.000Z");
      const at = (seconds: number) => new Date(base + seconds * 1000).toISOString();
      const entry = {
        actor_id: 1,
        actor_username: "kim",
        target: "task:1",
        success: true,
        ip: "127.0.0.1",
        detail: {},
      };
      await store.auth.appendAudit({ ...entry, action: "task.submit", created_at: at(0) });
      await store.auth.appendAudit({ ...entry, action: "task.kill", created_at: at(10) });
      await store.auth.appendAudit({
        ...entry,
        action: "auth.login_failed",
        success: false,
        actor_username: "lee",
        created_at: at(20),
        detail: { failures: 3 },
      });

      assert.deepEqual(
        (await store.auth.listAudit()).map((item) => item.action),
        ["auth.login_failed", "task.kill", "task.submit"],
      );
      assert.equal((await store.auth.listAudit({ actorUsername: "kim" })).length, 2);
      assert.equal((await store.auth.listAudit({ success: false }))[0]?.detail.failures, 3);
      assert.deepEqual(
        (await store.auth.listAudit({ since: at(5), until: at(20) })).map((item) => item.action),
        ["task.kill"],
      );
      assert.equal((await store.auth.listAudit({ limit: 1, offset: 2 }))[0]?.action, "task.submit");
    });

    it("tasks filter by owner", async () => {
      await store.insertTasks([makeTaskRecord({ owner_id: 7 }), makeTaskRecord({ owner_id: 8 }), makeTaskRecord()]);
      assert.equal((await store.listTasks({ ownerId: 7 })).length, 1);
      assert.equal(await store.countTasks({ ownerId: 8 }), 1);
    });
  });
}

describe("SQLite", () => {
  let directory: string;
  let counter = 0;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kohakuriver-auth-store-"));
  });

  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  describeAuthStore("SQLite", async () => {
    counter += 1;
    return createStore({ dbFile: join(directory, `store-${counter}.db`) });
  });
});

const postgresBinaries = await findPostgresBinaries();

describe(
  "PostgreSQL",
  { skip: postgresBinaries === undefined && process.env.CI !== "true" ? "no PostgreSQL binaries" : false },
  () => {
    let server: PostgresTestServer | undefined;

    before(async () => {
      assert.ok(
        postgresBinaries !== undefined,
        "CI=true requires PostgreSQL binaries; install Debian's postgresql package",
      );
      server = await startPostgresTestServer(postgresBinaries);
    });

    after(async () => {
      await server?.stop();
    });

    describeAuthStore("PostgreSQL", async () => createStore({ databaseUrl: await server!.createDatabase() }));
  },
);
