/**
 * `kohakuriver up` end to end: the real host and runner in this process, tasks in the real Docker Engine
 * (image kohakuriver/kohakuriver-base:base, built by scripts/build-base-image.sh), driven through the CLI.
 */

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { NodeHealth, NodeResponse, SubmitResponse, TaskResponse } from "@kohakuriver/api";

import { runCaptured, startCaptured, waitFor, type RunningCli } from "./cli-harness.fixture.js";

const DOCKER_SOCKET = "/var/run/docker.sock";
// In CI a missing engine must fail the run, not skip these tests.
const skip = existsSync(DOCKER_SOCKET) || process.env.CI === "true" ? false : `no Docker Engine at ${DOCKER_SOCKET}`;

const nodeName = `cli-test-${process.pid}`;
/** The runner's own bridge network, removed afterwards (a random /24 keeps it apart from other tests). */
const networkName = `kr-cli-test-${process.pid}`;
const subnetPrefix = `10.214.${Math.floor(Math.random() * 250) + 1}`;
let dataDir: string;
let stop: AbortController;
let up: RunningCli;
let env: Record<string, string>;

describe("kohakuriver up", { skip }, () => {
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-cli-up-"));
    stop = new AbortController();
    up = startCaptured(
      ["up", "--data-dir", dataDir, "--port", "0", "--runner-port", "0", "--ssh-proxy-port", "0", "--name", nodeName],
      {
        env: {
          KOHAKURIVER_LOG_LEVEL: "warning",
          KOHAKURIVER_DEFAULT_CONTAINER_BOOTSTRAP: "false",
          KOHAKURIVER_DOCKER_NETWORK_NAME: networkName,
          KOHAKURIVER_DOCKER_NETWORK_SUBNET: `${subnetPrefix}.0/24`,
          KOHAKURIVER_DOCKER_NETWORK_GATEWAY: `${subnetPrefix}.1`,
        },
        signal: stop.signal,
      },
    );
    const port = await waitFor("the ready line of kohakuriver up", () => {
      if (up.stderr.text.includes("error:")) throw new Error(`kohakuriver up failed: ${up.stderr.text}`);
      return /kohakuriver is up: host http:\/\/127\.0\.0\.1:(\d+)/.exec(up.stdout.text)?.[1];
    });
    env = { KOHAKURIVER_HOST: "127.0.0.1", KOHAKURIVER_PORT: port, KOHAKURIVER_HOME: dataDir };
  });

  after(async () => {
    stop.abort();
    await up.exit;
    rmSync(dataDir, { recursive: true, force: true });

    // Containers of this node that a failed test may have left, then the network.
    const filters = encodeURIComponent(JSON.stringify({ label: [`kohakuriver.node=${nodeName}`] }));
    const containers = JSON.parse(await dockerApi("GET", `/containers/json?all=true&filters=${filters}`)) as Array<{
      Id: string;
    }>;
    for (const container of containers) await dockerApi("DELETE", `/containers/${container.Id}?force=true`);
    await dockerApi("DELETE", `/networks/${networkName}`);
  });

  const cli = (argv: string[]): ReturnType<typeof runCaptured> => runCaptured(argv, { env });

  it("prints the ready line", () => {
    assert.match(up.stdout.text, new RegExp(`node ${nodeName} with \\d+ cores and [\\d.]+ [KMGT]?B memory\\n`));
    assert.match(up.stdout.text, /try: {2}kohakuriver -P \d+ task submit --wait -- echo hello\n/);
    assert.match(up.stdout.text, new RegExp(`stop: Ctrl-C, or 'kohakuriver down --data-dir ${dataDir}'`));
    assert.equal(existsSync(join(dataDir, "up.pid")), true);
  });

  it("gives the CLI an admin token", async () => {
    const file = join(dataDir, "auth.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const status = await cli(["auth", "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /username +admin\n/);
    assert.match(status.stdout, /role +admin\n/);

    const emptyHome = mkdtempSync(join(tmpdir(), "kohakuriver-cli-no-auth-"));
    try {
      const anonymous = await runCaptured(["node", "list"], { env: { ...env, KOHAKURIVER_HOME: emptyHome } });
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /authentication required/);
    } finally {
      rmSync(emptyHome, { recursive: true, force: true });
    }
  });

  it("runs a task and exits 0", async () => {
    const result = await cli(["task", "submit", "--wait", "--", "echo", "hello"]);
    assert.equal(result.code, 0, result.stderr);
    const taskId = /^submitted task (\d+)\n/.exec(result.stdout)?.[1];
    assert.ok(taskId !== undefined, result.stdout);
    assert.equal(result.stdout, `submitted task ${taskId}\nhello\ntask ${taskId} completed (exit code 0)\n`);

    const logs = await cli(["task", "logs", taskId]);
    assert.equal(logs.stdout, "hello\n");
  });

  it("passes arguments without a shell", async () => {
    const result = await cli(["task", "submit", "--wait", "printf", "%s|", "a b", "it's", "-c", "$HOME"]);
    assert.equal(result.code, 0, result.stderr);
    const taskId = /^submitted task (\d+)/.exec(result.stdout)?.[1] as string;
    assert.equal((await cli(["task", "logs", taskId])).stdout, "a b|it's|-c|$HOME|");
    // The output has no final newline, so --wait ends the line before its result line.
    assert.match(result.stdout, new RegExp(`\\na b\\|it's\\|-c\\|\\$HOME\\|\\ntask ${taskId} completed`));
  });

  it("returns the task's exit code", async () => {
    const result = await cli(["task", "submit", "-w", "-e", "CODE=3", "--", "sh", "-c", "echo oops >&2; exit $CODE"]);
    assert.equal(result.code, 3);
    assert.match(result.stdout, /failed \(exit code 3\)/);
    assert.match(result.stderr, /\noops\n/);
    const taskId = /^submitted task (\d+)/.exec(result.stdout)?.[1] as string;
    assert.equal((await cli(["task", "logs", "--stderr", taskId])).stdout, "oops\n");
  });

  it("waits for every task of a batch", async () => {
    const result = await cli(["task", "submit", "-w", "-t", nodeName, "-t", nodeName, "-c", "0", "--", "hostname"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^submitted batch \d+ with 2 tasks\n/);
    assert.equal(result.stdout.match(/completed \(exit code 0\)/g)?.length, 2);
    const taskIds = [...result.stdout.matchAll(/^submitted task (\d+)$/gm)].map((match) => match[1]);
    assert.equal(taskIds.length, 2);
    for (const taskId of taskIds) {
      // `hostname` in a container prints the container's short id, one line.
      assert.match(result.stdout, new RegExp(`\\n==> task ${taskId} on ${nodeName} <==\\n[0-9a-f]+\\n`));
    }
  });

  it("streams one task's output while waiting", async () => {
    const waiting = startCaptured(["task", "submit", "--wait", "--", "sh", "-c", "echo first; sleep 3; echo second"], {
      env,
    });
    await waitFor("the first line of output", () => (waiting.stdout.text.includes("first\n") ? true : undefined));
    assert.doesNotMatch(waiting.stdout.text, /second|completed/);

    assert.equal(await waiting.exit, 0);
    assert.match(waiting.stdout.text, /\nfirst\nsecond\ntask \d+ completed \(exit code 0\)\n$/);
  });

  it("follows a task's output until it ends", async () => {
    const submitted = await cli([
      "task",
      "submit",
      "--json",
      "--",
      "sh",
      "-c",
      "for i in 1 2 3; do echo tick $i; sleep 0.4; done",
    ]);
    const taskId = (JSON.parse(submitted.stdout) as SubmitResponse).task_ids[0] as string;
    const result = await cli(["task", "logs", "-f", taskId]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "tick 1\ntick 2\ntick 3\n");

    const tail = await cli(["task", "logs", "-n", "1", taskId]);
    assert.equal(tail.stdout, "tick 3\n");
  });

  it("kills a running task", async () => {
    const waiting = startCaptured(["task", "submit", "--wait", "--", "sleep", "30"], { env });
    const taskId = await waitFor("the submitted task id", () => /submitted task (\d+)/.exec(waiting.stdout.text)?.[1]);
    await waitFor("the task to run", async () => {
      const status = await cli(["task", "status", "--json", taskId]);
      return (JSON.parse(status.stdout) as TaskResponse).status === "running" ? true : undefined;
    });

    assert.equal((await cli(["task", "kill", taskId])).code, 0);
    assert.equal(await waiting.exit, 137);
    assert.match(waiting.stdout.text, /killed/);
  });

  it("shows the node in node commands", async () => {
    const list = await cli(["node", "list", "--json"]);
    const node = (JSON.parse(list.stdout) as NodeResponse[]).find((item) => item.hostname === nodeName);
    assert.equal(node?.status, "online");

    const table = await cli(["node", "list", "-s", "online"]);
    assert.match(table.stdout, new RegExp(`\\n${nodeName}\\s+online\\s+\\d+ / \\d+`));

    const status = await cli(["node", "status", nodeName]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /\nCores reserved\s+\d+ \/ \d+ \(\d+ free\)\n/);
    assert.match(status.stdout, /\nMemory reserved\s+[\d.]+ [KMGT]?B \/ [\d.]+ [KMGT]?B\n/);

    const unknown = await cli(["node", "health", "nosuch"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`^error: node 'nosuch' not found \\(registered nodes: .*${nodeName}`));

    const health = await cli(["node", "health", nodeName, "--json"]);
    const samples = JSON.parse(health.stdout) as NodeHealth[];
    assert.equal(samples.length, 1);
    assert.equal(samples[0]?.hostname, nodeName);

    const summary = await cli(["node", "summary", "--json"]);
    const parsed = JSON.parse(summary.stdout) as {
      nodes: { online: number };
      tasks: { counts: Record<string, number> };
    };
    assert.equal(parsed.nodes.online, 1);
    assert.ok((parsed.tasks.counts.completed ?? 0) >= 3);
  });

  it("stops on abort and removes its pid file", async () => {
    stop.abort();
    assert.equal(await up.exit, 0);
    assert.equal(existsSync(join(dataDir, "up.pid")), false);
  });
});

/** Calls the Docker Engine API on its socket; returns the body (errors such as 404 included). */
function dockerApi(method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath: DOCKER_SOCKET, path, method }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve(body));
    });
    request.on("error", reject);
    request.end();
  });
}
