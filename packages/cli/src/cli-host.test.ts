/**
 * The CLI against a real host without runners: submitted tasks wait in the queue, so these tests cover
 * the request and output paths that need no Docker Engine.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { SubmitResponse, TaskResponse } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";
import { resolveHostConfig, startHost, type HostHandle } from "@kohakuriver/host";

import { runCaptured, startCaptured, waitFor, type RunCapturedOptions } from "./cli-harness.fixture.js";

let dataDir: string;
let host: HostHandle;
let env: Record<string, string>;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-cli-host-"));
  const config = resolveHostConfig({
    HOST_BIND_IP: "127.0.0.1",
    HOST_PORT: 0,
    HOST_SSH_PROXY_PORT: 0,
    DEFAULT_CONTAINER_BOOTSTRAP: false,
    DB_FILE: join(dataDir, "kohakuriver.db"),
    SHARED_DIR: join(dataDir, "shared"),
  });
  host = await startHost({ config, logger: createLogger({ name: "host", level: "silent" }) });
  env = { KOHAKURIVER_HOST: "127.0.0.1", KOHAKURIVER_PORT: String(host.port) };
});

after(async () => {
  await host.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function cli(argv: string[], options: RunCapturedOptions = {}): ReturnType<typeof runCaptured> {
  return runCaptured(argv, { env, ...options });
}

async function submitJson(argv: string[]): Promise<SubmitResponse> {
  const result = await cli(["task", "submit", "--json", ...argv]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as SubmitResponse;
}

async function taskJson(taskId: string): Promise<TaskResponse> {
  const result = await cli(["task", "status", taskId, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as TaskResponse;
}

describe("CLI with a host and no runners", () => {
  it("node list says no nodes are registered", async () => {
    const result = await cli(["node", "list"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /no nodes registered/);

    const json = await cli(["node", "list", "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), []);
  });

  it("task submit prints the task id", async () => {
    const result = await cli(["task", "submit", "--", "echo", "hello"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^submitted task \d+\n$/);
  });

  it("task submit sends the command in exec form", async () => {
    const response = await submitJson([
      "--name",
      "exec-form",
      "-e",
      "SEED=42",
      "-m",
      "256M",
      "-c",
      "0",
      "python",
      "train.py",
      "-c",
      "it's",
    ]);
    const task = await taskJson(response.task_ids[0] as string);
    assert.equal(task.command, "python");
    assert.deepEqual(task.arguments, ["train.py", "-c", "it's"]);
    assert.equal(task.shell, false);
    assert.equal(task.name, "exec-form");
    assert.deepEqual(task.env_vars, { SEED: "42" });
    assert.equal(task.required_memory_bytes, 256_000_000);
    assert.equal(task.required_cores, 0);
    assert.equal(task.status, "pending");
  });

  it("task status shows the detail view", async () => {
    const response = await submitJson(["--", "sh", "-c", "echo 'a b'"]);
    const taskId = response.task_ids[0] as string;
    const result = await cli(["task", "status", taskId]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, new RegExp(`^Task\\s+${taskId}\\n`));
    assert.match(result.stdout, /\nStatus\s+pending\n/);
    assert.match(result.stdout, /\nCommand\s+sh -c 'echo '\\''a b'\\'''\n/);
    assert.match(result.stdout, /\nCores\s+1\n/);
    assert.match(result.stdout, /\nExit code\s+-\n/);
  });

  it("task list filters by status and limits", async () => {
    const all = await cli(["task", "list", "--json", "-s", "pending"]);
    const tasks = JSON.parse(all.stdout) as TaskResponse[];
    assert.ok(tasks.length >= 2);
    assert.ok(tasks.every((task) => task.status === "pending"));

    const limited = await cli(["task", "list", "--json", "-l", "1"]);
    assert.equal((JSON.parse(limited.stdout) as TaskResponse[]).length, 1);

    const table = await cli(["task", "list", "-c"]);
    assert.match(table.stdout, /^ID\s+STATUS\s+NODE\s+COMMAND\n/);
  });

  it("task kill ends a queued task", async () => {
    const response = await submitJson(["--", "sleep", "10"]);
    const taskId = response.task_ids[0] as string;
    const result = await cli(["task", "kill", taskId]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await taskJson(taskId)).status, "killed");

    const again = await cli(["task", "kill", taskId]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: task \d+ is already killed/);
    assert.doesNotMatch(again.stderr, /hint:/);
  });

  it("submit --wait exits 137 on kill", async () => {
    const waiting = startCaptured(["task", "submit", "--wait", "--", "sleep", "10"], { env });
    const taskId = await waitFor("the submitted task id", () => /submitted task (\d+)/.exec(waiting.stdout.text)?.[1]);
    assert.equal((await cli(["task", "kill", taskId])).code, 0);

    assert.equal(await waiting.exit, 137);
    assert.match(waiting.stdout.text, new RegExp(`^submitted task ${taskId}\\ntask ${taskId} killed[^\\n]*\\n$`));
    assert.match(waiting.stderr.text, new RegExp(`task ${taskId}: pending\\n`));
  });

  it("submit --wait --json prints tasks only", async () => {
    const before = new Set(
      (JSON.parse((await cli(["task", "list", "--json"])).stdout) as TaskResponse[]).map((task) => task.task_id),
    );
    const waiting = startCaptured(["task", "submit", "--wait", "--json", "--", "sleep", "11"], { env });
    const taskId = await waitFor("the submitted task in the list", async () => {
      const tasks = JSON.parse((await cli(["task", "list", "--json", "-l", "5"])).stdout) as TaskResponse[];
      return tasks.find((task) => !before.has(task.task_id) && task.arguments[0] === "11")?.task_id;
    });
    assert.equal((await cli(["task", "kill", taskId])).code, 0);

    assert.equal(await waiting.exit, 137);
    assert.equal(waiting.stderr.text, "");
    const tasks = JSON.parse(waiting.stdout.text) as TaskResponse[];
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0]?.task_id, taskId);
    assert.equal(tasks[0]?.status, "killed");
  });

  it("task logs of a queued task are empty", async () => {
    const response = await submitJson(["--", "true"]);
    const result = await cli(["task", "logs", response.task_ids[0] as string]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
  });

  it("task pause of a queued task fails plainly", async () => {
    const response = await submitJson(["--", "true"]);
    const result = await cli(["task", "pause", response.task_ids[0] as string]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: /);
    assert.doesNotMatch(result.stderr, /hint:/);
  });

  it("task status of an unknown task fails plainly", async () => {
    const result = await cli(["task", "status", "12345"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: task 12345 not found\n$/);
  });

  it("node status of an unknown node fails plainly", async () => {
    const result = await cli(["node", "status", "nowhere"]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "error: node 'nowhere' not found (no nodes are registered yet)\n");
  });

  it("node health of an unknown node fails plainly", async () => {
    const result = await cli(["node", "health", "nowhere"]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "error: node 'nowhere' not found (no nodes are registered yet)\n");
  });

  it("task list names a filter that matches nothing", async () => {
    const result = await cli(["task", "list", "-s", "completed", "-n", "nowhere"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      "no task matches the filter (status completed, node nowhere); list all tasks with 'kohakuriver task list'\n",
    );

    const byNode = await cli(["task", "list", "--node", "nowhere"]);
    assert.equal(
      byNode.stderr,
      "no task matches the filter (node nowhere); list all tasks with 'kohakuriver task list'\n",
    );
  });

  it("task submit takes --cpus as --cores", async () => {
    const response = await submitJson(["--cpus", "2", "--", "true"]);
    assert.equal((await taskJson(response.task_ids[0] as string)).required_cores, 2);
  });

  it("node health and summary without nodes", async () => {
    const health = await cli(["node", "health"]);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stderr, /no health data yet/);

    const summary = await cli(["node", "summary", "--json"]);
    assert.equal(summary.code, 0, summary.stderr);
    const parsed = JSON.parse(summary.stdout) as {
      nodes: { online: number };
      tasks: { counts: Record<string, number> };
    };
    assert.equal(parsed.nodes.online, 0);
    assert.ok((parsed.tasks.counts.pending ?? 0) >= 2);
    assert.ok((parsed.tasks.counts.killed ?? 0) >= 1);
  });
});
