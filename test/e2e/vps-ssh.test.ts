/**
 * Docker VPS sessions end to end. A Debian image without sshd gets it installed from its own package
 * manager. The real OpenSSH client reaches it only through the host's SSH proxy, with the ProxyCommand of
 * the stanzas that `ssh config` writes. Files survive stop and restart through snapshots and a runner
 * SIGKILL, bulk data and parallel sessions go through, and bad input leaves nothing behind.
 */

import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { VpsResponse } from "@kohakuriver/api";

import { TestCluster, docker, dockerSkip, freePort, waitFor, type CliResult } from "./harness.js";

const DEBIAN_IMAGE = "kohakuriver-test/debian-nosshd:bookworm";
const BASE_IMAGE = "kohakuriver/kohakuriver-base:base";

/** Sends raw bytes to the SSH proxy and returns everything it sends back before closing (or within 15 s). */
function proxyExchange(port: number, payload: string | Buffer | null, waitMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, waitMs);
    socket.on("connect", () => {
      if (payload !== null) socket.write(payload);
    });
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Runs the OpenSSH client with a config file; resolves with its exit code and output. */
function runSsh(
  configFile: string,
  args: string[],
  options: { input?: string; stdinFile?: string; hashStdout?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string; sha256: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", ["-F", configFile, "-o", "BatchMode=yes", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const hash = createHash("sha256");
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (options.hashStdout === true) hash.update(chunk);
      else stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    if (options.stdinFile !== undefined) createReadStream(options.stdinFile).pipe(child.stdin);
    else child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ssh ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, sha256: hash.digest("hex") });
    });
  });
}

function assertCliOk(result: CliResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}): ${result.stderr}${result.stdout}`);
}

function createdId(result: CliResult): string {
  const match = /VPS (\d+)/.exec(result.stdout);
  assert.ok(match, `no VPS id in: ${result.stdout}`);
  return match[1] as string;
}

describe("VPS over SSH", { skip: dockerSkip }, () => {
  let cluster: TestCluster;
  let node = "";
  let proxyPort = 0;
  let home = "";
  let sshConfig = "";
  let generatedId = "";
  const env = (): Record<string, string> => ({
    HOME: home,
    KOHAKURIVER_SSH_PROXY_PORT: String(proxyPort),
  });

  before(async () => {
    if (
      !(await docker
        .getImage(DEBIAN_IMAGE)
        .inspect()
        .then(
          () => true,
          () => false,
        ))
    ) {
      throw new Error(`image ${DEBIAN_IMAGE} is missing; build it with scripts/build-debian-test-image.sh`);
    }
    proxyPort = await freePort();
    cluster = new TestCluster({
      host: { HOST_SSH_PROXY_PORT: proxyPort },
      runner: { MAX_SNAPSHOTS_PER_VPS: 2 },
    });
    await cluster.startHost();
    node = await cluster.startRunner(0);
    home = join(cluster.dir, "user-home");
    mkdirSync(home, { recursive: true });
    sshConfig = join(home, "ssh_config");
  });

  after(async () => {
    await cluster?.cleanup();
  });

  it("generated key reaches sshd through the proxy", async () => {
    const created = await cluster.cli(
      ["vps", "create", "--gen-ssh-key", "--image", DEBIAN_IMAGE, "-t", node, "--name", "debian-generated"],
      { env: env(), timeoutMs: 600_000 },
    );
    assertCliOk(created, "vps create --gen-ssh-key");
    generatedId = createdId(created);

    const keyFile = join(home, ".ssh", `id-kohakuriver-${generatedId}`);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, "private key mode");
    assert.match(readFileSync(keyFile, "utf8"), /BEGIN OPENSSH PRIVATE KEY/);
    const row = await cluster.client.request<{ ssh_public_key?: string; ssh_key_mode: string }>(
      "GET",
      `/api/vps/status/${generatedId}`,
    );
    assert.equal(row.ssh_key_mode, "generate");
    assert.equal(JSON.stringify(row).includes("PRIVATE KEY"), false, "the host never returns the private key again");

    assertCliOk(await cluster.cli(["ssh", "config", "-o", sshConfig], { env: env() }), "ssh config");
    const stanza = readFileSync(sshConfig, "utf8");
    assert.match(stanza, new RegExp(`Host kohakuriver-vps-${generatedId}\\n`));
    assert.match(stanza, /ProxyCommand .* ssh proxy \d+ --proxy-port \d+/);
    assert.doesNotMatch(stanza, /\n\s*Port /, "the stanza has no direct port: only the proxy leads there");

    const result = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/etc/os-release"]);
    assert.equal(result.code, 0, `ssh failed: ${result.stderr}`);
    assert.match(result.stdout, /ID=debian/);
    assert.match(
      cluster.logTail("host", 400),
      new RegExp(`SSH tunnel opened.*${generatedId}|${generatedId}.*SSH tunnel opened`),
    );
  });

  it("100 MB round trip keeps its checksum", async () => {
    const blob = join(home, "blob.bin");
    writeFileSync(blob, randomBytes(100 * 1024 * 1024));
    const expected = createHash("sha256").update(readFileSync(blob)).digest("hex");

    const result = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat"], {
      stdinFile: blob,
      hashStdout: true,
      timeoutMs: 300_000,
    });
    assert.equal(result.code, 0, `ssh cat failed: ${result.stderr}`);
    assert.equal(result.sha256, expected);

    const sink = await runSsh(
      sshConfig,
      [`kohakuriver-vps-${generatedId}`, "sh", "-c", "'cat > /dev/null && echo received'"],
      { stdinFile: blob, timeoutMs: 300_000 },
    );
    assert.equal(sink.code, 0, `ssh cat > /dev/null failed: ${sink.stderr}`);
    assert.equal(sink.stdout.trim(), "received");
  });

  it("twenty parallel sessions all succeed", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "echo", `session-${index}`]),
      ),
    );
    results.forEach((result, index) => {
      assert.equal(result.code, 0, `session ${index} failed: ${result.stderr}`);
      assert.equal(result.stdout.trim(), `session-${index}`);
    });
  });

  it("file survives runner SIGKILL without restart", async () => {
    const written = await runSsh(sshConfig, [
      `kohakuriver-vps-${generatedId}`,
      "sh",
      "-c",
      "'echo kept-1 > /root/kept.txt'",
    ]);
    assert.equal(written.code, 0, written.stderr);
    const container = docker.getContainer(`kohakuriver-vps-${generatedId}`);
    const before = await container.inspect();

    await cluster.killRunner(0);
    await cluster.startRunner(0);
    await cluster.waitForNode(node, "online");

    const afterRestart = await container.inspect();
    assert.equal(afterRestart.State.StartedAt, before.State.StartedAt, "the container was not restarted");
    assert.equal(afterRestart.RestartCount, 0);
    const read = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/root/kept.txt"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), "kept-1");
    const status = await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`);
    assert.equal(status.status, "running");
  });

  it("pause and resume keep the session", async () => {
    assertCliOk(await cluster.cli(["vps", "pause", generatedId], { env: env() }), "vps pause");
    const paused = await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`);
    assert.equal(paused.status, "paused");
    assert.equal((await docker.getContainer(`kohakuriver-vps-${generatedId}`).inspect()).State.Paused, true);
    assert.match(
      await proxyExchange(proxyPort, `REQUEST_TUNNEL ${generatedId}\n`),
      new RegExp(`^ERROR VPS ${generatedId} is paused; resume it first`),
    );
    const nodes = await cluster.client.request<Array<{ hostname: string; cores_in_use: number | "N/A" }>>(
      "GET",
      "/api/nodes",
    );
    const inUse = nodes.find((item) => item.hostname === node)?.cores_in_use;
    assert.equal(inUse, 1, "the paused VPS keeps its core");

    assertCliOk(await cluster.cli(["vps", "resume", generatedId], { env: env() }), "vps resume");
    const read = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/root/kept.txt"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), "kept-1");
  });

  it("survives a host SIGKILL", async () => {
    await cluster.killHost();
    await cluster.startHost();
    await cluster.waitForNode(node, "online");
    const status = await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`);
    assert.equal(status.status, "running");
    const read = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/root/kept.txt"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), "kept-1");
  });

  it("engine restart publishes the new port", async () => {
    const container = docker.getContainer(`kohakuriver-vps-${generatedId}`);
    const before = await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`);
    // Ending sshd ends the container's main process; the engine restarts it (unless-stopped) on a new port.
    const exec = await container.exec({ Cmd: ["sh", "-c", "kill $(cat /run/sshd.pid)"] });
    await exec.start({});
    await waitFor(async () => (await container.inspect()).RestartCount > 0, 30_000, "the engine restarted the VPS");

    const published = Number((await container.inspect()).NetworkSettings.Ports["22/tcp"]?.[0]?.HostPort);
    await waitFor(
      async () =>
        (await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`)).ssh_port === published,
      30_000,
      `the host did not learn the new SSH port ${published} (was ${before.ssh_port})`,
    );
    const read = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/root/kept.txt"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), "kept-1");
  });

  it("returns from lost when its node is back", async () => {
    const container = docker.getContainer(`kohakuriver-vps-${generatedId}`);
    const startedAt = (await container.inspect()).State.StartedAt;
    cluster.signalRunner(0, "SIGSTOP");
    try {
      await waitFor(
        async () =>
          (await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`)).status === "lost",
        30_000,
        "VPS did not become lost while its runner was frozen",
      );
    } finally {
      cluster.signalRunner(0, "SIGCONT");
    }
    await waitFor(
      async () =>
        (await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`)).status === "running",
      30_000,
      "VPS did not return to running",
    );
    assert.equal((await container.inspect()).State.StartedAt, startedAt, "the container was not restarted");
    const read = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/root/kept.txt"]);
    assert.equal(read.code, 0, read.stderr);
  });

  it("file survives stop and restart via snapshot", async () => {
    const written = await runSsh(sshConfig, [
      `kohakuriver-vps-${generatedId}`,
      "sh",
      "-c",
      "'echo kept-2 > /root/kept.txt'",
    ]);
    assert.equal(written.code, 0, written.stderr);

    assertCliOk(await cluster.cli(["vps", "stop", generatedId], { env: env(), timeoutMs: 300_000 }), "vps stop");
    const stopped = await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`);
    assert.equal(stopped.status, "stopped");
    assert.deepEqual(await cluster.containers(generatedId), [], "the container is removed on stop");

    const restarted = await cluster.cli(["vps", "restart", generatedId], { env: env(), timeoutMs: 600_000 });
    assertCliOk(restarted, "vps restart");
    const read = await runSsh(sshConfig, [`kohakuriver-vps-${generatedId}`, "cat", "/root/kept.txt"]);
    assert.equal(read.code, 0, `ssh after restart failed (same key expected): ${read.stderr}`);
    assert.equal(read.stdout.trim(), "kept-2");

    const logs = await docker.getContainer(`kohakuriver-vps-${generatedId}`).logs({ stdout: true, stderr: true });
    assert.doesNotMatch(logs.toString(), /installing the OpenSSH server/, "sshd is not installed again");
  });

  it("snapshot count stays within retention", async () => {
    for (let index = 0; index < 3; index += 1) {
      assertCliOk(
        await cluster.cli(["vps", "snapshot", "create", generatedId, "-m", `manual ${index}`], {
          env: env(),
          timeoutMs: 300_000,
        }),
        "vps snapshot create",
      );
      const listed = await cluster.client.request<{ count: number }>("GET", `/api/vps/snapshots/${generatedId}`);
      assert.ok(listed.count <= 2, `snapshot count ${listed.count} exceeds MAX_SNAPSHOTS_PER_VPS=2`);
    }
    const listed = await cluster.cli(["vps", "snapshot", "list", generatedId, "--json"], { env: env() });
    assertCliOk(listed, "vps snapshot list");
    const parsed = JSON.parse(listed.stdout) as {
      count: number;
      snapshots: Array<{ timestamp: number; message: string }>;
    };
    assert.equal(parsed.count, 2);
    assert.equal(parsed.snapshots[0]?.message, "manual 2");

    const missing = await cluster.cli(["vps", "snapshot", "restore", generatedId, "999"], { env: env() });
    assert.equal(missing.code, 1, missing.stdout);
    assert.match(missing.stderr, /snapshot 999 of VPS \d+ not found on node/);
    const stillRunning = await cluster.client.request<VpsResponse>("GET", `/api/vps/status/${generatedId}`);
    assert.equal(stillRunning.status, "running", "a restore from a missing snapshot leaves the VPS running");

    const oldest = String(parsed.snapshots[1]?.timestamp);
    assertCliOk(
      await cluster.cli(["vps", "snapshot", "delete", generatedId, oldest], { env: env() }),
      "snapshot delete",
    );
    const remaining = await cluster.client.request<{ count: number }>("GET", `/api/vps/snapshots/${generatedId}`);
    assert.equal(remaining.count, 1);
  });

  it("uploaded public key works", async () => {
    const keyFile = join(home, "uploaded_ed25519");
    execFileSync("ssh-keygen", ["-t", "ed25519", "-N", "", "-q", "-f", keyFile]);
    const created = await cluster.cli(
      ["vps", "create", "--public-key-file", `${keyFile}.pub`, "--image", DEBIAN_IMAGE, "-t", node],
      { env: env(), timeoutMs: 600_000 },
    );
    assertCliOk(created, "vps create --public-key-file");
    const id = createdId(created);

    const result = await cluster.cli(["ssh", "connect", id, "-i", keyFile, "--", "echo", "uploaded-ok"], {
      env: env(),
      timeoutMs: 120_000,
    });
    assertCliOk(result, "ssh connect with the uploaded key");
    assert.equal(result.stdout.trim(), "uploaded-ok");
    assertCliOk(await cluster.cli(["vps", "stop", id], { env: env(), timeoutMs: 300_000 }), "vps stop");
  });

  it("image without a known distribution fails clearly", async () => {
    const created = await cluster.cli(["vps", "create", "--gen-ssh-key", "--image", BASE_IMAGE, "-t", node], {
      env: env(),
      timeoutMs: 120_000,
    });
    assert.equal(created.code, 1, created.stdout + created.stderr);
    assert.match(created.stderr, /is failed: The VPS setup exited (with code 1 )?before sshd started/);
    assert.match(created.stderr, /names no known distribution \(busybox/);
    const id = createdId(created);
    await waitFor(async () => (await cluster.containers(id)).length === 0, 30_000, "failed VPS container removed");
  });

  it("no-ssh-key option selects mode none", async () => {
    const created = await cluster.cli(
      ["vps", "create", "--no-ssh-key", "--image", BASE_IMAGE, "-t", node, "--no-wait", "--json"],
      { env: env() },
    );
    assertCliOk(created, "vps create --no-ssh-key");
    const parsed = JSON.parse(created.stdout) as { task_id: string; ssh_key_mode: string };
    assert.equal(parsed.ssh_key_mode, "none");
    const both = await cluster.cli(["vps", "create", "--ssh", "--no-ssh-key", "-t", node], { env: env() });
    assert.equal(both.code, 2, both.stdout);
    assert.match(both.stderr, /choose one SSH option/);
    await cluster.client.request("POST", `/api/vps/stop/${parsed.task_id}`).catch(() => undefined);
  });

  it("disabled mode: proxy error, connect works", async () => {
    const created = await cluster.cli(["vps", "create", "--image", BASE_IMAGE, "-t", node], { env: env() });
    assertCliOk(created, "vps create (SSH disabled)");
    const id = createdId(created);

    const answer = await proxyExchange(proxyPort, `REQUEST_TUNNEL ${id}\n`);
    assert.match(answer, new RegExp(`^ERROR SSH is disabled for VPS ${id}`));
    // The terminal needs no SSH: it is an Engine exec in the VPS's container.
    const shell = await cluster.cli(["connect", id], { env: env(), input: "echo vps-$((6*7))\n" });
    assertCliOk(shell, "connect to a VPS with SSH disabled");
    assert.match(shell.stdout, /vps-42/);
    assertCliOk(await cluster.cli(["vps", "stop", id], { env: env(), timeoutMs: 300_000 }), "vps stop");
  });

  it("proxy rejects malformed request lines", async () => {
    assert.match(await proxyExchange(proxyPort, "REQUEST_TUNNEL 999999999\n"), /^ERROR VPS 999999999 not found/);
    assert.match(await proxyExchange(proxyPort, "REQUEST_TUNNEL abc\n"), /^ERROR invalid task id 'abc'/);
    assert.match(await proxyExchange(proxyPort, "HELLO\n"), /^ERROR malformed request line/);
    assert.match(
      await proxyExchange(proxyPort, `REQUEST_TUNNEL ${"9".repeat(2000)}`),
      /^ERROR request line longer than 1024 bytes/,
    );
    const started = Date.now();
    assert.match(await proxyExchange(proxyPort, null, 20_000), /^ERROR no request line within 10 s/);
    assert.ok(Date.now() - started >= 9_500, "the proxy waits 10 s for the line");
  });

  it("bad create input leaves nothing behind", async () => {
    const before = await cluster.client.request<VpsResponse[]>("GET", "/api/vps");
    const containersBefore = (await cluster.containers()).length;
    const cases: Array<{ body: Record<string, unknown>; field: RegExp }> = [
      { body: { ssh_key_mode: "password" }, field: /ssh_key_mode/ },
      { body: { ssh_key_mode: "upload" }, field: /ssh_public_key/ },
      { body: { ssh_key_mode: "upload", ssh_public_key: "not a key" }, field: /ssh_public_key/ },
      {
        body: {
          ssh_key_mode: "upload",
          ssh_public_key: 'command="rm -rf /" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample',
        },
        field: /ssh_public_key/,
      },
      { body: { vps_backend: "xen" }, field: /vps_backend/ },
      { body: { target_hostname: "no-such-node" }, field: /target_hostname/ },
      { body: { required_cores: -1 }, field: /required_cores/ },
      { body: { registry_image: "UPPER/Case:tag" }, field: /registry_image: .* lower case/ },
      { body: { target_numa_node_id: 0 }, field: /target_numa_node_id: a NUMA node needs a target node/ },
    ];
    for (const { body, field } of cases) {
      await assert.rejects(
        cluster.client.request("POST", "/api/vps/create", body),
        (error: Error & { status?: number }) => {
          assert.ok(
            error.status !== undefined && error.status >= 400 && error.status < 500,
            `4xx for ${JSON.stringify(body)}: ${error.status}`,
          );
          assert.match(error.message, field);
          return true;
        },
      );
    }
    for (const path of ["/api/vps/stop/123456789", "/api/vps/restart/123456789"]) {
      await assert.rejects(cluster.client.request("POST", path), (error: Error & { status?: number }) => {
        assert.equal(error.status, 404);
        return true;
      });
    }
    const paused = await cluster.cli(["vps", "pause", "123456789"], { env: env() });
    assert.equal(paused.code, 1, paused.stdout);
    assert.match(paused.stderr, /VPS 123456789 not found/);

    const afterList = await cluster.client.request<VpsResponse[]>("GET", "/api/vps");
    assert.equal(afterList.length, before.length, "no VPS row was stored");
    assert.equal((await cluster.containers()).length, containersBefore, "no container was created");
  });

  it("stopped VPS refuses the proxy", async () => {
    assertCliOk(await cluster.cli(["vps", "stop", generatedId], { env: env(), timeoutMs: 300_000 }), "vps stop");
    await waitFor(async () => (await cluster.containers(generatedId)).length === 0, 30_000, "container removed");
    assert.match(
      await proxyExchange(proxyPort, `REQUEST_TUNNEL ${generatedId}\n`),
      new RegExp(`^ERROR VPS ${generatedId} is stopped, not running`),
    );
  });
});
