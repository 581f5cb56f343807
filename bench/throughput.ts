/**
 * Host throughput with 1,000 simulated nodes: accepted submissions per second, then placements per second.
 *
 * The host runs as its own process (one Node.js thread, so one core). The simulated nodes are registered
 * through the runner API with the cluster token. One small HTTP server in this process accepts every
 * node's dispatches with 202, as a runner that accepts everything would.
 *
 * 1. With the nodes registered but not yet schedulable (no heartbeat), N submissions are sent over 32
 *    keep-alive connections; all of them stay pending. Accepted submissions per second = N / wall time.
 * 2. One heartbeat per node makes the nodes schedulable; placements per second = N / time from the first
 *    heartbeat until all N tasks are `assigning`. Sending the heartbeats is inside that interval.
 */

import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { TestCluster } from "../test/e2e/harness.js";
import { postMany } from "./http-load.js";

export interface ThroughputResult {
  nodes: number;
  tasks: number;
  submissionsPerSecond: number;
  placementsPerSecond: number;
  dispatchesAnswered: number;
}

export async function measureThroughput(
  nodeCount: number,
  taskCount: number,
  log: (line: string) => void,
): Promise<ThroughputResult> {
  const cluster = new TestCluster({
    // Nodes must not time out during the run: a generous heartbeat timeout, and quiet logs.
    host: {
      LOG_LEVEL: "warn",
      HEARTBEAT_INTERVAL_SECONDS: 5,
      HEARTBEAT_TIMEOUT_FACTOR: 120,
      CLEANUP_CHECK_INTERVAL_SECONDS: 5,
    },
  });
  let dispatches = 0;
  const fakeRunners = await startFakeRunners(() => (dispatches += 1));
  try {
    await cluster.startHost();
    const token = readFileSync(join(cluster.dir, "host", "cluster-token"), "utf8").trim();
    const runnerUrl = `http://127.0.0.1:${(fakeRunners.address() as AddressInfo).port}`;
    const base = cluster.client.baseUrl;
    const names = Array.from({ length: nodeCount }, (_, index) => `sim-${String(index).padStart(4, "0")}`);

    await inParallel(names, 32, async (hostname) => {
      await call(base, token, "POST", "/api/register", {
        hostname,
        url: runnerUrl,
        total_cores: 16,
        total_ram_bytes: 64_000_000_000,
        numa_topology: null,
        gpu_info: [],
        runner_version: "bench",
      });
    });
    log(`throughput: ${nodeCount} simulated nodes registered`);

    const submission = JSON.stringify({ command: "true", shell: false, required_cores: 1 });
    const load = await postMany(cluster.hostPort, "/api/submit", submission, taskCount, 32);
    if (load.failed > 0) throw new Error(`${load.failed} submissions failed, first: ${load.firstError}`);
    const submitSeconds = load.seconds;
    log(`throughput: ${taskCount} submissions accepted in ${submitSeconds.toFixed(2)} s`);

    const placeStarted = performance.now();
    await inParallel(names, 64, async (hostname) => {
      await call(base, token, "PUT", `/api/heartbeat/${hostname}`, { running_tasks: [] });
    });
    for (;;) {
      const page = (await call(
        base,
        undefined,
        "GET",
        `/api/tasks?status=assigning&limit=1&offset=${taskCount - 1}`,
      )) as unknown[];
      if (page.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const placeSeconds = (performance.now() - placeStarted) / 1000;
    log(`throughput: ${taskCount} tasks placed in ${placeSeconds.toFixed(2)} s`);

    return {
      nodes: nodeCount,
      tasks: taskCount,
      submissionsPerSecond: taskCount / submitSeconds,
      placementsPerSecond: taskCount / placeSeconds,
      dispatchesAnswered: dispatches,
    };
  } finally {
    await cluster.cleanup();
    await new Promise((resolve) => fakeRunners.close(resolve));
  }
}

function startFakeRunners(onDispatch: () => void): Promise<Server> {
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      if (request.method === "POST" && request.url === "/api/execute") {
        onDispatch();
        const taskId = (JSON.parse(body) as { task_id: string }).task_id;
        response.writeHead(202, { "content-type": "application/json" });
        response.end(JSON.stringify({ message: "Task accepted for launch", task_id: taskId, already_accepted: false }));
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: "ok" }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function call(
  base: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} returned ${response.status}: ${text}`);
  return text === "" ? undefined : JSON.parse(text);
}

async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(workers);
}
