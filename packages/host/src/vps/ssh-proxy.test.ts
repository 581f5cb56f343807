/**
 * The SSH proxy's token check on a real host: with AUTH_ENABLED a missing or wrong token is rejected, and
 * an API token passes only for a VPS that its account may use.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";
import bcrypt from "bcrypt";

import { hashApiToken, newSecret } from "../auth/credentials.js";
import { makeTaskRecord } from "../store/task-record.fixture.js";
import { resolveHostConfig } from "../config.js";
import { startHost, type HostHandle } from "../host.js";

const ADMIN_SECRET = "admin-secret-for-the-proxy-test";

/** Sends one request line and returns the proxy's response line. */
function request(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write(line));
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString()));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

for (const authEnabled of [true, false]) {
  describe(`SSH proxy with AUTH_ENABLED=${authEnabled}`, () => {
    let dataDir: string;
    let host: HostHandle;
    const tokens: Record<"user" | "operator", string> = { user: "", operator: "" };
    const otherUsersVps = "4242";

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-ssh-proxy-"));
      host = await startHost({
        config: resolveHostConfig({
          HOST_BIND_IP: "127.0.0.1",
          HOST_PORT: 0,
          HOST_SSH_PROXY_PORT: 0,
          DEFAULT_CONTAINER_BOOTSTRAP: false,
          DB_FILE: join(dataDir, "kohakuriver.db"),
          SHARED_DIR: join(dataDir, "shared"),
          AUTH_ENABLED: authEnabled,
          ADMIN_SECRET,
        }),
        logger: createLogger({ name: "host", level: "silent" }),
      });
      const passwordHash = await bcrypt.hash("password-123", 4);
      for (const role of ["user", "operator"] as const) {
        const user = await host.store.auth.createUser({
          username: `${role}-account`,
          display_name: null,
          password_hash: passwordHash,
          is_active: true,
          role,
        });
        tokens[role] = newSecret();
        await host.store.auth.createToken({
          user_id: user.id,
          token_hash: hashApiToken(tokens[role]),
          name: "test",
          created_at: new Date().toISOString(),
        });
      }
      // A stopped VPS without an owner: a token that may use it gets past the token check to the status check.
      await host.store.insertTasks([
        makeTaskRecord({ task_id: otherUsersVps, task_type: "vps", status: "stopped", ssh_key_mode: "generate" }),
      ]);
    });

    after(async () => {
      await host.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    if (authEnabled) {
      it("missing token is refused", async () => {
        assert.match(await request(host.sshProxyPort, "REQUEST_TUNNEL 123\n"), /^ERROR a token is required/);
      });

      it("wrong or cluster token is rejected", async () => {
        for (const token of ["not-a-token", host.clusterToken]) {
          assert.match(
            await request(host.sshProxyPort, `REQUEST_TUNNEL ${otherUsersVps} ${token}\n`),
            /^ERROR invalid or revoked API token/,
          );
        }
      });

      it("other account's VPS is forbidden to a user", async () => {
        assert.match(
          await request(host.sshProxyPort, `REQUEST_TUNNEL ${otherUsersVps} ${tokens.user}\n`),
          /^ERROR task 4242 belongs to another account/,
        );
      });

      it("admin secret and operator token pass", async () => {
        for (const token of [ADMIN_SECRET, tokens.operator]) {
          assert.equal(
            await request(host.sshProxyPort, `REQUEST_TUNNEL ${otherUsersVps} ${token}\n`),
            `ERROR VPS ${otherUsersVps} is stopped, not running\n`,
          );
        }
      });
    } else {
      it("no token is needed", async () => {
        assert.equal(await request(host.sshProxyPort, "REQUEST_TUNNEL 123\n"), "ERROR VPS 123 not found\n");
      });
    }

    it("CRLF line end is accepted", async () => {
      // Without AUTH_ENABLED a token is ignored.
      const token = ` ${ADMIN_SECRET}`;
      assert.equal(await request(host.sshProxyPort, `REQUEST_TUNNEL 77${token}\r\n`), "ERROR VPS 77 not found\n");
    });

    it("long line without newline is refused", async () => {
      assert.match(await request(host.sshProxyPort, "x".repeat(5000)), /^ERROR request line longer than 1024 bytes\n$/);
    });
  });
}
