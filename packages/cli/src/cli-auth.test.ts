/**
 * The auth, admin and approval commands against a real host with authentication on, run in-process with
 * their own KOHAKURIVER_HOME, plus the host command's refusal to serve an open API beyond loopback.
 */

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { HostClient, KohakuRiverError } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";
import { resolveHostConfig, startHost, type HostHandle } from "@kohakuriver/host";

import { runCaptured } from "./cli-harness.fixture.js";
import { resolveToken } from "./context.js";

const REGISTER_SECRET = "cli-register-secret-0123456789abcdef";

let dataDir: string;
let host: HostHandle;

function homeEnv(name: string): Record<string, string> {
  return {
    KOHAKURIVER_HOST: "127.0.0.1",
    KOHAKURIVER_PORT: String(host.port),
    KOHAKURIVER_HOME: join(dataDir, `home-${name}`),
  };
}

function storedToken(env: Record<string, string>): { token: string; token_id: number | null; url?: string } {
  return JSON.parse(readFileSync(join(env.KOHAKURIVER_HOME as string, "auth.json"), "utf8")) as {
    token: string;
    token_id: number | null;
    url?: string;
  };
}

describe("auth commands", () => {
  const adminEnv = (): Record<string, string> => homeEnv("admin");
  const userEnv = (): Record<string, string> => homeEnv("user");

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-cli-auth-"));
    const config = resolveHostConfig({
      HOST_BIND_IP: "127.0.0.1",
      HOST_PORT: 0,
      HOST_SSH_PROXY_PORT: 0,
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      DB_FILE: join(dataDir, "kohakuriver.db"),
      SHARED_DIR: join(dataDir, "shared"),
      AUTH_ENABLED: true,
      ADMIN_REGISTER_SECRET: REGISTER_SECRET,
    });
    host = await startHost({ config, logger: createLogger({ name: "host", level: "silent" }) });
  });

  after(async () => {
    await host.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("status before login", async () => {
    const result = await runCaptured(["auth", "status"], { env: adminEnv() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^not logged in to http:\/\/127\.0\.0\.1:\d+/);
  });

  it("register stores a private token", async () => {
    const env = adminEnv();
    const result = await runCaptured(
      ["auth", "register", "--invite", REGISTER_SECRET, "-u", "root", "-p", "root-password-1"],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /account root \(admin\) created/);

    const file = join(env.KOHAKURIVER_HOME as string, "auth.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = storedToken(env);
    assert.equal(stored.url, `http://127.0.0.1:${host.port}`);
    assert.equal((await new HostClient({ baseUrl: host.url, token: stored.token }).me()).username, "root");
  });

  it("admin invites and manages a user", async () => {
    const invite = await runCaptured(["admin", "invite", "create", "--role", "user"], { env: adminEnv() });
    assert.equal(invite.code, 0, invite.stderr);
    const token = invite.stdout.trim();
    assert.match(token, /^[0-9a-f]{64}$/);

    const register = await runCaptured(["auth", "register", "-i", token, "-u", "ursula", "-p", "ursula-pass-1"], {
      env: userEnv(),
    });
    assert.equal(register.code, 0, register.stderr);

    const users = await runCaptured(["admin", "user", "list", "--json"], { env: adminEnv() });
    assert.equal(users.code, 0, users.stderr);
    const ursula = (JSON.parse(users.stdout) as Array<{ id: number; username: string }>).find(
      (user) => user.username === "ursula",
    );
    assert.ok(ursula !== undefined, users.stdout);

    const promoted = await runCaptured(["admin", "user", "set-role", String(ursula.id), "operator"], {
      env: adminEnv(),
    });
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /ursula: role operator, active/);

    const denied = await runCaptured(["admin", "user", "set-role", String(ursula.id), "admin"], { env: userEnv() });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /insufficient permissions: this needs the admin role/);

    const badRole = await runCaptured(["admin", "user", "set-role", String(ursula.id), "root"], { env: adminEnv() });
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /invalid role 'root'/);

    const audit = await runCaptured(["admin", "audit", "--action", "user.role_change", "--json"], {
      env: adminEnv(),
    });
    assert.equal(audit.code, 0, audit.stderr);
    assert.equal((JSON.parse(audit.stdout) as unknown[]).length, 1);
  });

  it("login, token commands and logout --revoke", async () => {
    const env = homeEnv("login");
    const login = await runCaptured(["auth", "login", "-u", "ursula", "-p", "ursula-pass-1"], { env });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /logged in to .* as ursula \(operator\)/);
    const stored = storedToken(env);

    const status = await runCaptured(["auth", "status"], { env });
    assert.match(status.stdout, /username +ursula\n/);
    assert.match(status.stdout, /token +cli-auto\n/);

    const created = await runCaptured(["auth", "token", "create", "ci-runner"], { env });
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    const list = await runCaptured(["auth", "token", "list", "--json"], { env });
    const tokens = JSON.parse(list.stdout) as Array<{ id: number; name: string }>;
    const ciToken = tokens.find((item) => item.name === "ci-runner");
    assert.ok(ciToken !== undefined, list.stdout);
    assert.equal(list.stdout.includes(secret), false, "token list never shows secrets");

    const revoke = await runCaptured(["auth", "token", "revoke", String(ciToken.id)], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    await assert.rejects(new HostClient({ baseUrl: host.url, token: secret }).me(), KohakuRiverError);

    const logout = await runCaptured(["auth", "logout", "--revoke"], { env });
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stdout, /revoked/);
    await assert.rejects(new HostClient({ baseUrl: host.url, token: stored.token }).me(), (error: unknown) => {
      assert.ok(error instanceof KohakuRiverError);
      assert.equal(error.status, 401);
      return true;
    });
    const after = await runCaptured(["auth", "status"], { env });
    assert.match(after.stdout, /not logged in/);
  });

  it("login with --token checks it", async () => {
    const env = homeEnv("with-token");
    const bad = await runCaptured(["auth", "login", "--token", "f".repeat(64)], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid or revoked API token/);

    const good = await runCaptured(["auth", "login", "--token", storedToken(adminEnv()).token], { env });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /as root \(admin\)/);
  });

  it("token goes only to its own host", () => {
    const env = homeEnv("scoped");
    const home = env.KOHAKURIVER_HOME as string;
    rmSync(home, { recursive: true, force: true });
    const write = (value: object) => {
      rmSync(join(home, "auth.json"), { force: true });
      mkdirSync(home, { recursive: true });
      writeFileSync(join(home, "auth.json"), JSON.stringify(value));
    };

    write({ token: "t1", url: "http://127.0.0.1:8000" });
    assert.equal(resolveToken(env, "http://localhost:8000"), "t1", "loopback names count as one host");
    assert.equal(resolveToken(env, "http://10.0.0.5:8000"), undefined);
    assert.equal(resolveToken(env, "http://127.0.0.1:9000"), undefined);
    write({ token: "t2" });
    assert.equal(resolveToken(env, "http://10.0.0.5:8000"), "t2", "files of the original CLI have no url");
    assert.equal(resolveToken({ ...env, KOHAKURIVER_TOKEN: "from-env" }, "http://10.0.0.5:8000"), "from-env");
  });
});

describe("host command exposure", () => {
  it("refuses 0.0.0.0 without auth", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "kohakuriver-cli-insecure-"));
    try {
      const file = join(scratch, "host.toml");
      writeFileSync(
        file,
        [
          'HOST_BIND_IP = "0.0.0.0"',
          "HOST_PORT = 0",
          "HOST_SSH_PROXY_PORT = 0",
          "DEFAULT_CONTAINER_BOOTSTRAP = false",
          `DB_FILE = "${join(scratch, "kohakuriver.db")}"`,
          `SHARED_DIR = "${join(scratch, "shared")}"`,
        ].join("\n"),
      );
      const result = await runCaptured(["host", "--config", file], { env: { KOHAKURIVER_HOME: scratch } });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /refusing to start: HOST_BIND_IP is 0\.0\.0\.0/);
      assert.match(result.stderr, /--insecure/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
