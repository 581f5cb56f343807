/**
 * Starts a runner: checks the Docker Engine, prepares directories and the workload network, restores its
 * tasks from the state file (re-adopting running containers without restarting them), serves the API for
 * the host and keeps registering and sending heartbeats. `close()` leaves containers running.
 */

import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";

import type { HeartbeatRequest, RegisterRequest } from "@kohakuriver/api";
import { ConfigError, createLogger, type Logger } from "@kohakuriver/common";

import Docker from "dockerode";

import { hostBaseUrl, runnerNodeName, runnerStateFile, type RunnerConfig } from "./config.js";
import { DockerDriver } from "./driver/docker-driver.js";
import type { WorkloadDriver } from "./driver/types.js";
import { EnvironmentSync } from "./environments/environment-sync.js";
import { advertisedAddress, runnerUrl } from "./host-link/advertised-address.js";
import { HostLink } from "./host-link/host-link.js";
import { buildRunnerServer } from "./http/server.js";
import { ResourceProbe } from "./host-link/resource-probe.js";
import { RunnerState } from "./state/runner-state.js";
import { StatusReporter } from "./tasks/status-reporter.js";
import { TaskExecutor } from "./tasks/task-executor.js";
import { VpsManager } from "./vps/vps-manager.js";
import { RUNNER_VERSION } from "./version.js";

export interface StartRunnerOptions {
  config: RunnerConfig;
  /** The cluster token; defaults to CLUSTER_TOKEN, then the file in CLUSTER_TOKEN_FILE. */
  clusterToken?: string;
  logger?: Logger;
  /** The workload driver; defaults to Docker on DOCKER_SOCKET. */
  driver?: WorkloadDriver;
}

export interface RunnerHandle {
  url: string;
  port: number;
  nodeName: string;
  /** Resolves once the host accepted this runner's registration. */
  registered(): Promise<void>;
  close(): Promise<void>;
}

export async function startRunner(options: StartRunnerOptions): Promise<RunnerHandle> {
  const { config } = options;
  const nodeName = runnerNodeName(config);
  // Every line names the node; subsystems add their own `component`.
  const nodeLogger = (options.logger ?? createLogger({ name: "runner", level: config.LOG_LEVEL })).child({
    node: nodeName,
  });
  const logger = nodeLogger.child({ component: "runner" });
  const clusterToken = resolveClusterToken(config, options.clusterToken);

  const driver = options.driver ?? new DockerDriver({ socketPath: config.DOCKER_SOCKET, logger: nodeLogger });
  await driver.ping();
  ensureWritableDirectory(join(config.SHARED_DIR, "shared_data"), "SHARED_DIR");
  ensureWritableDirectory(join(config.SHARED_DIR, "logs"), "SHARED_DIR");
  ensureWritableDirectory(config.LOCAL_TEMP_DIR, "LOCAL_TEMP_DIR");
  const network = await driver.ensureNetwork(
    config.DOCKER_NETWORK_NAME,
    config.DOCKER_NETWORK_SUBNET,
    config.DOCKER_NETWORK_GATEWAY,
  );

  const probe = new ResourceProbe({ nvidiaSmiPath: config.NVIDIA_SMI_PATH, logger });
  const numaTopology = await probe.numaTopology();

  const stateFile = runnerStateFile(config);
  ensureWritableDirectory(dirname(stateFile), "RUNNER_STATE_DIR");
  const state = new RunnerState(stateFile, (error) =>
    logger.error({ err: error, file: stateFile }, "cannot write the runner state file"),
  );
  state.load();
  const hostUrl = hostBaseUrl(config);
  const reporter = new StatusReporter({
    state,
    hostUrl,
    clusterToken,
    logger: nodeLogger.child({ component: "reporter" }),
  });
  const environments = new EnvironmentSync({
    config,
    driver,
    hostUrl,
    clusterToken,
    logger: nodeLogger.child({ component: "environments" }),
  });
  const executor = new TaskExecutor({
    config,
    nodeName,
    driver,
    state,
    reporter,
    logger,
    network,
    numaTopology,
    environments,
  });

  const vps = new VpsManager({
    config,
    nodeName,
    driver,
    state,
    reporter,
    logger: nodeLogger.child({ component: "vps" }),
    network,
    environments,
  });

  const app = await buildRunnerServer({
    executor,
    vps,
    state,
    clusterToken,
    nodeName,
    logger: nodeLogger,
    driver,
    environments,
    docker: driver instanceof DockerDriver ? driver.docker : new Docker({ socketPath: config.DOCKER_SOCKET }),
  });
  await app.listen({ host: config.RUNNER_BIND_IP, port: config.RUNNER_PORT });
  const port = (app.server.address() as AddressInfo).port;
  const url = runnerUrl(await advertisedAddress(config), port);

  executor.resumeAll();
  vps.resumeAll();
  const adopted = (await executor.adoptOrphans()) + (await vps.adoptOrphans());
  reporter.start();
  logger.info({ url, host: hostUrl, restoredTasks: state.ids().length, adopted, network }, "runner started");

  const link = new HostLink({
    hostUrl,
    clusterToken,
    nodeName,
    intervalSeconds: config.HEARTBEAT_INTERVAL_SECONDS,
    logger: nodeLogger.child({ component: "host-link" }),
    registration: async (): Promise<RegisterRequest> => ({
      hostname: nodeName,
      url,
      total_cores: await probe.coreCount(),
      total_ram_bytes: (await probe.memory())?.totalBytes ?? null,
      numa_topology: numaTopology,
      gpu_info: await probe.gpus(),
      runner_version: RUNNER_VERSION,
    }),
    heartbeat: async (): Promise<HeartbeatRequest> => {
      const memory = await probe.memory();
      const temperature = await probe.temperature();
      return {
        running_tasks: state.ids(),
        killed_tasks: [],
        cpu_percent: await probe.cpuPercent(),
        memory_percent: memory?.percent ?? null,
        memory_used_bytes: memory?.usedBytes ?? null,
        memory_total_bytes: memory?.totalBytes ?? null,
        current_avg_temp: temperature?.averageCelsius ?? null,
        current_max_temp: temperature?.maxCelsius ?? null,
        gpu_info: await probe.gpus(),
        vm_capable: false,
        vfio_gpus: null,
        runner_version: RUNNER_VERSION,
      };
    },
    stopTask: async (taskId) => {
      if (state.get(taskId)?.task_type === "vps") await vps.stop(taskId, null);
      else await executor.kill(taskId);
    },
  });
  link.start();

  let closed = false;
  return {
    url,
    port,
    nodeName,
    registered: () => link.waitRegistered(),
    async close() {
      if (closed) return;
      closed = true;
      await link.stop();
      vps.close();
      await reporter.stop();
      await app.close();
      logger.info("runner stopped; its containers keep running");
    },
  };
}

function resolveClusterToken(config: RunnerConfig, explicit: string | undefined): string {
  if (explicit !== undefined && explicit !== "") return explicit;
  if (config.CLUSTER_TOKEN !== "") return config.CLUSTER_TOKEN;
  if (config.CLUSTER_TOKEN_FILE !== "") {
    try {
      return readFileSync(config.CLUSTER_TOKEN_FILE, "utf8").trim();
    } catch (error) {
      throw new ConfigError(`cannot read CLUSTER_TOKEN_FILE ${config.CLUSTER_TOKEN_FILE}: ${(error as Error).message}`);
    }
  }
  throw new ConfigError(
    "no cluster token: set CLUSTER_TOKEN or CLUSTER_TOKEN_FILE in runner.toml to the token the host stored at its first start " +
      "(the file cluster-token beside its database)",
  );
}

/** Creates the directory if needed and checks that the runner can write to it, naming the setting to change. */
function ensureWritableDirectory(directory: string, setting: string): void {
  try {
    mkdirSync(directory, { recursive: true });
    accessSync(directory, constants.W_OK);
  } catch (error) {
    throw new ConfigError(
      `cannot write to ${directory} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        `set ${setting} to a directory this user can write, or run the runner as root`,
    );
  }
}
