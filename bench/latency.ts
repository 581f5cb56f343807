/**
 * Latency of one command task on a local cluster (host and runner as separate processes, real Docker).
 * The baselines in the same run use the same container, built by the runner's own spec builder (same
 * image, network, mounts, capabilities and environment). It is created directly through the Docker Engine
 * API, and started with `docker run --rm`.
 *
 * - submit→running: from the client's submit call to Docker's StartedAt of the task's container, against
 *   the same interval for create+start through the Engine API.
 * - end to end: from submit until the client sees `completed` (polling every 5 ms), against the wall time
 *   of `docker run --rm` of the same container running `echo hello`.
 */

import { spawn } from "node:child_process";
import { join } from "node:path";

import { TaskExecuteRequestSchema } from "@kohakuriver/api";
import { resolveRunnerConfig } from "@kohakuriver/runner";
import Docker from "dockerode";

import { buildCreateOptions } from "../packages/runner/src/driver/docker-spec.js";
import type { TaskContainerSpec } from "../packages/runner/src/driver/types.js";
import { buildTaskContainerSpec } from "../packages/runner/src/tasks/container-spec.js";

import { TestCluster, docker } from "../test/e2e/harness.js";
import { median, percentile } from "./stats.js";

const IMAGE = "kohakuriver/kohakuriver-base:base";
const BENCH_LABEL = { "kohakuriver.bench": "latency" };

export interface LatencyResult {
  samples: number;
  submitToRunning: number[];
  directCreateStart: number[];
  endToEnd: number[];
  dockerRunRm: number[];
}

export async function measureLatency(samples: number, log: (line: string) => void): Promise<LatencyResult> {
  const cluster = new TestCluster({ host: { LOG_LEVEL: "warn" }, runner: { LOG_LEVEL: "warn" } });
  const result: LatencyResult = { samples, submitToRunning: [], directCreateStart: [], endToEnd: [], dockerRunRm: [] };
  try {
    await cluster.startHost();
    const node = await cluster.startRunner(0);

    const warmup = 3;
    for (let round = 0; round < samples + warmup; round += 1) {
      const keep = round >= warmup;
      // Interleaved, so drift in the machine's load affects all four measurements alike.
      const ours = await runOurs(cluster, node);
      const spec = sameContainer(cluster, node, `kohakuriver-bench-${process.pid}-${round}`);
      const direct = await runDirect(spec);
      const dockerRun = await runDockerCli({ ...spec, name: `${spec.name}-cli` });
      if (keep) {
        result.submitToRunning.push(ours.toRunning);
        result.endToEnd.push(ours.endToEnd);
        result.directCreateStart.push(direct);
        result.dockerRunRm.push(dockerRun);
      }
      if (keep && (round - warmup + 1) % 10 === 0) log(`latency: ${round - warmup + 1}/${samples} rounds`);
    }
  } finally {
    await cluster.cleanup();
    const leftovers = await docker.listContainers({ all: true, filters: { label: ["kohakuriver.bench=latency"] } });
    for (const container of leftovers) await docker.getContainer(container.Id).remove({ force: true });
  }
  return result;
}

async function runOurs(cluster: TestCluster, node: string): Promise<{ toRunning: number; endToEnd: number }> {
  const started = Date.now();
  const startedPrecise = performance.now();
  const { task_ids } = await cluster.client.submit({
    command: "echo",
    arguments: ["hello"],
    shell: false,
    targets: [node],
    required_cores: 0,
  });
  const taskId = task_ids[0] as string;

  for (;;) {
    const task = await cluster.client.getTask(taskId);
    if (task.status === "completed") {
      const endToEnd = performance.now() - startedPrecise;
      // The runner removes the container after reporting; let that finish outside the measurement so it
      // does not slow down the next baseline run.
      while ((await cluster.containers(taskId)).length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return { toRunning: Date.parse(task.started_at as string) - started, endToEnd };
    }
    if (task.status === "failed" || task.status === "lost" || task.status === "killed") {
      throw new Error(`benchmark task ${taskId} ended ${task.status}: ${task.error_message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Builds the container the runner would create for `echo hello`, with a bench label instead of the task labels. */
function sameContainer(cluster: TestCluster, node: string, name: string): TaskContainerSpec {
  const config = resolveRunnerConfig({
    SHARED_DIR: cluster.sharedDir,
    LOCAL_TEMP_DIR: join(cluster.dir, "local-0"),
    DOCKER_NETWORK_NAME: cluster.networkName,
  });
  const request = TaskExecuteRequestSchema.parse({
    task_id: "1",
    command: "echo",
    arguments: ["hello"],
    shell: false,
    docker_image_name: IMAGE,
  });
  const spec = buildTaskContainerSpec(request, {
    config,
    nodeName: node,
    network: config.DOCKER_NETWORK_NAME,
    numaTopology: null,
  });
  return { ...spec, name, labels: BENCH_LABEL };
}

/** Creates and starts the container through the Engine API; returns ms from the first call to Docker's StartedAt. */
async function runDirect(spec: TaskContainerSpec): Promise<number> {
  const started = Date.now();
  const container = await docker.createContainer(buildCreateOptions(spec));
  await container.start();
  const info = await container.inspect();
  const elapsed = Date.parse(info.State.StartedAt) - started;
  await container.wait();
  await container.remove({ force: true });
  return elapsed;
}

/** Runs the same container with `docker run --rm`; returns the command's wall time in ms. */
function runDockerCli(spec: TaskContainerSpec): Promise<number> {
  const args = ["run", "--rm", "--name", spec.name, "--log-driver", "json-file", "--workdir", spec.workingDir];
  for (const [key, value] of Object.entries(spec.labels)) args.push("--label", `${key}=${value}`);
  for (const [key, value] of Object.entries(spec.env)) args.push("--env", `${key}=${value}`);
  for (const bind of spec.binds)
    args.push(
      "--mount",
      `type=bind,source=${bind.source},target=${bind.target}${bind.readOnly === true ? ",readonly" : ""}`,
    );
  for (const capability of spec.capAdd) args.push("--cap-add", capability);
  if (spec.network !== null) args.push("--network", spec.network);
  args.push("--entrypoint", "", spec.image, ...spec.cmd);

  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`docker run --rm failed with ${code}: ${stderr}`));
    });
  });
}

export function summarize(values: number[]): { median: number; p95: number } {
  return { median: median(values), p95: percentile(values, 0.95) };
}

export type { Docker };
