/**
 * `kohakuriver docker …` against a real host whose Docker socket does not exist: tarball listing and
 * deletion work from the tarball directory alone, and container commands report the missing engine.
 */

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";
import { resolveHostConfig, startHost, type HostHandle } from "@kohakuriver/host";

import { runCaptured } from "./cli-harness.fixture.js";

let dataDir: string;
let host: HostHandle;
let env: Record<string, string>;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-cli-docker-"));
  const tarballs = join(dataDir, "shared", "kohakuriver-containers");
  mkdirSync(tarballs, { recursive: true });
  writeFileSync(join(tarballs, "my-env-1800000000.tar"), "x".repeat(2048));
  writeFileSync(join(tarballs, "my-env-1800000100.tar"), "x".repeat(4096));

  host = await startHost({
    config: resolveHostConfig({
      HOST_BIND_IP: "127.0.0.1",
      HOST_PORT: 0,
      HOST_SSH_PROXY_PORT: 0,
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      DB_FILE: join(dataDir, "kohakuriver.db"),
      SHARED_DIR: join(dataDir, "shared"),
      DOCKER_SOCKET: join(dataDir, "no-docker.sock"),
    }),
    logger: createLogger({ name: "host", level: "silent" }),
  });
  env = { KOHAKURIVER_HOST: "127.0.0.1", KOHAKURIVER_PORT: String(host.port) };
});

after(async () => {
  await host.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("docker commands", () => {
  it("tar list prints versions newest first", async () => {
    const result = await runCaptured(["docker", "tar", "list"], { env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /ENVIRONMENT\s+TIMESTAMP\s+PUBLISHED\s+SIZE\s+FILE/);
    assert.match(lines[1] ?? "", /^my-env\s+1800000100\s+2027-01-15T08:01:40.000Z\s+4.1 KB/);
    assert.match(lines[2] ?? "", /^\s+1800000000\s/);
  });

  it("tar list --json returns the API object", async () => {
    const result = await runCaptured(["docker", "tar", "list", "--json"], { env });
    const list = JSON.parse(result.stdout) as Record<string, { latest_timestamp: number }>;
    assert.equal(list["my-env"]?.latest_timestamp, 1_800_000_100);
  });

  it("container list reports the missing engine", async () => {
    const result = await runCaptured(["docker", "container", "list"], { env });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Docker Engine is not reachable .*DOCKER_SOCKET/);
  });

  it("tar create of an invalid name names the field", async () => {
    const result = await runCaptured(["docker", "tar", "create", "bad..name"], { env });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /env_name/);
  });

  it("tar delete removes every version", async () => {
    const deleted = await runCaptured(["docker", "tar", "delete", "my-env", "-f"], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /Deleted 2 tarball\(s\) of my-env/);

    const again = await runCaptured(["docker", "tar", "delete", "my-env"], { env });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /no tarballs of environment my-env/);
  });
});
