/** The hint for a port in use names the option or config key of the command that tried to listen. */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { runCaptured } from "./cli-harness.fixture.js";

let dataDir: string;
let blocker: Server;
let port: number;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-cli-port-"));
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const address = blocker.address();
  if (address === null || typeof address === "string") throw new Error("the blocking server has no port");
  port = address.port;
});

after(async () => {
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  rmSync(dataDir, { recursive: true, force: true });
});

describe("port in use", () => {
  it("up names its port options", async () => {
    const result = await runCaptured(["up", "--data-dir", join(dataDir, "up"), "--port", String(port)], {
      env: { KOHAKURIVER_LOG_LEVEL: "silent" },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: .*EADDRINUSE/m);
    assert.match(
      result.stderr,
      /hint: another process uses this port; stop it, or choose other ports with 'kohakuriver up --port N --runner-port M --ssh-proxy-port P'/,
    );
  });

  it("host names HOST_PORT", async () => {
    const result = await runCaptured(["host"], {
      env: {
        KOHAKURIVER_HOME: join(dataDir, "home"),
        KOHAKURIVER_HOST_BIND_IP: "127.0.0.1",
        KOHAKURIVER_HOST_PORT: String(port),
        KOHAKURIVER_HOST_SSH_PROXY_PORT: "0",
        KOHAKURIVER_DB_FILE: join(dataDir, "host", "kohakuriver.db"),
        KOHAKURIVER_SHARED_DIR: join(dataDir, "host", "shared"),
        KOHAKURIVER_LOG_LEVEL: "silent",
      },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: .*EADDRINUSE/m);
    assert.match(
      result.stderr,
      /hint: another process uses this port; stop it, or set another port with HOST_PORT in the host config file or the KOHAKURIVER_HOST_PORT variable/,
    );
  });
});
