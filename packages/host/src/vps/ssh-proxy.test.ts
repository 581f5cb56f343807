/** The SSH proxy's token check on a real host: with AUTH_ENABLED a missing or wrong token is refused. */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";

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

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-ssh-proxy-"));
      host = await startHost({
        config: resolveHostConfig({
          HOST_BIND_IP: "127.0.0.1",
          HOST_PORT: 0,
          HOST_SSH_PROXY_PORT: 0,
          DB_FILE: join(dataDir, "kohakuriver.db"),
          SHARED_DIR: join(dataDir, "shared"),
          AUTH_ENABLED: authEnabled,
          ADMIN_SECRET,
        }),
        logger: createLogger({ name: "host", level: "silent" }),
      });
    });

    after(async () => {
      await host.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    if (authEnabled) {
      it("missing token is refused", async () => {
        assert.match(await request(host.sshProxyPort, "REQUEST_TUNNEL 123\n"), /^ERROR a token is required/);
      });

      it("wrong token is refused", async () => {
        assert.equal(await request(host.sshProxyPort, "REQUEST_TUNNEL 123 not-the-secret\n"), "ERROR invalid token\n");
      });

      it("admin and cluster tokens pass", async () => {
        for (const token of [ADMIN_SECRET, host.clusterToken]) {
          assert.equal(await request(host.sshProxyPort, `REQUEST_TUNNEL 123 ${token}\n`), "ERROR VPS 123 not found\n");
        }
      });
    } else {
      it("no token is needed", async () => {
        assert.equal(await request(host.sshProxyPort, "REQUEST_TUNNEL 123\n"), "ERROR VPS 123 not found\n");
      });
    }

    it("CRLF line end is accepted", async () => {
      const token = authEnabled ? ` ${ADMIN_SECRET}` : "";
      assert.equal(await request(host.sshProxyPort, `REQUEST_TUNNEL 77${token}\r\n`), "ERROR VPS 77 not found\n");
    });

    it("long line without newline is refused", async () => {
      assert.match(await request(host.sshProxyPort, "x".repeat(5000)), /^ERROR request line longer than 1024 bytes\n$/);
    });
  });
}
