/**
 * Starts the host: store, cluster token, resource ledger, scheduler, dispatcher, node registry and the
 * HTTP API. `close()` stops everything but leaves tasks and their containers running.
 */

import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { createLogger, type Logger } from "@kohakuriver/common";
import Docker from "dockerode";

import { clusterTokenFile, containerDir, type HostConfig } from "./config.js";
import { loadOrCreateClusterToken } from "./cluster-token.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { bootstrapDefaultEnvironment } from "./environments/default-environment.js";
import { EnvironmentService } from "./environments/environment-service.js";
import { TarballDirectory } from "./environments/tarball-directory.js";
import { RunnerClient } from "./dispatch/runner-client.js";
import { buildHostServer } from "./http/server.js";
import { NodeRegistry } from "./nodes/node-registry.js";
import { HealthHistory } from "./nodes/node-view.js";
import { ResourceLedger } from "./scheduler/ledger.js";
import { Scheduler } from "./scheduler/scheduler.js";
import { SnowflakeGenerator } from "./scheduler/snowflake.js";
import { createStore } from "./store/index.js";
import type { Store } from "./store/types.js";
import { TaskService } from "./tasks/task-service.js";

export interface StartHostOptions {
  config: HostConfig;
  logger?: Logger;
}

export interface HostHandle {
  /** Base URL of the API, with the real port when HOST_PORT was 0. */
  url: string;
  port: number;
  clusterToken: string;
  clusterTokenFile: string;
  config: HostConfig;
  store: Store;
  close(): Promise<void>;
}

export async function startHost(options: StartHostOptions): Promise<HostHandle> {
  const { config } = options;
  // Subsystems get their own `component`; `logger` is for the host's own start and stop lines.
  const rootLogger = options.logger ?? createLogger({ name: "host", level: config.LOG_LEVEL });
  const logger = rootLogger.child({ component: "host" });

  mkdirSync(join(config.SHARED_DIR, "logs"), { recursive: true });
  const tokenFile = clusterTokenFile(config);
  const { token: clusterToken, created } = loadOrCreateClusterToken(tokenFile);
  if (created)
    logger.info(
      { file: tokenFile },
      "cluster token created; give it to runners as CLUSTER_TOKEN or CLUSTER_TOKEN_FILE",
    );

  const store = await createStore({ dbFile: config.DB_FILE, databaseUrl: config.DATABASE_URL, logger: rootLogger });
  // What has been started so far, undone in reverse order if start-up fails.
  const undo: Array<() => unknown> = [() => store.close()];
  try {
    await store.migrate();

    const ids = new SnowflakeGenerator();
    const newest = await store.listTasks({ order: "newest", limit: 1 });
    if (newest[0] !== undefined) ids.advancePast(newest[0].task_id);

    const ledger = new ResourceLedger();
    const runners = new RunnerClient(clusterToken);
    // The scheduler hands placements to the dispatcher, and the dispatcher wakes the scheduler when a task
    // fails to dispatch for good. Both callbacks run only after both objects exist.
    const scheduler: Scheduler = new Scheduler(
      store,
      ledger,
      { enqueue: (taskId) => dispatcher.enqueue(taskId) },
      rootLogger.child({ component: "scheduler" }),
    );
    const dispatcher: Dispatcher = new Dispatcher({
      store,
      ledger,
      runners,
      logger: rootLogger.child({ component: "dispatcher" }),
      workingDir: config.DEFAULT_WORKING_DIR,
      onTaskFinished: () => scheduler.kick(),
    });
    undo.push(
      () => scheduler.stop(),
      () => dispatcher.stop(),
    );
    const tasks = new TaskService({
      config,
      store,
      ledger,
      scheduler,
      runners,
      ids,
      logger: rootLogger.child({ component: "tasks" }),
    });
    const nodes = new NodeRegistry({
      config,
      store,
      ledger,
      scheduler,
      dispatcher,
      tasks,
      logger: rootLogger.child({ component: "nodes" }),
    });

    await nodes.load();
    await restoreActiveTasks(store, ledger, scheduler, dispatcher);
    const health = new HealthHistory(() => nodes.list());

    const environments = new EnvironmentService({
      docker: new Docker({ socketPath: config.DOCKER_SOCKET }),
      tarballs: new TarballDirectory(containerDir(config)),
      cpuFraction: config.ENV_CONTAINER_CPU_LIMIT,
      memoryFraction: config.ENV_CONTAINER_MEM_LIMIT,
      keepCount: config.TARBALL_KEEP_COUNT,
      logger: rootLogger.child({ component: "environments" }),
    });

    const app = await buildHostServer({
      tasks,
      store,
      nodes,
      ledger,
      health,
      clusterToken,
      environments,
      runners,
      logger: rootLogger,
    });
    undo.push(() => app.close());
    await app.listen({ host: config.HOST_BIND_IP, port: config.HOST_PORT });
    const port = (app.server.address() as AddressInfo).port;
    const urlHost = config.HOST_BIND_IP === "0.0.0.0" ? "127.0.0.1" : config.HOST_BIND_IP;
    const url = `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}`;

    nodes.start();
    health.start();
    if (config.DEFAULT_CONTAINER_BOOTSTRAP) {
      // In the background: pulling or saving an image can take minutes, and the API is usable meanwhile.
      void bootstrapDefaultEnvironment({
        environments,
        environment: config.DEFAULT_CONTAINER_NAME,
        initialImage: config.INITIAL_BASE_IMAGE,
        logger: rootLogger.child({ component: "environments" }),
      });
    }
    logger.info({ url, bind: config.HOST_BIND_IP, port, store: store.dialect }, "host started");
    if (!isLoopback(config.HOST_BIND_IP)) {
      // TODO: user accounts and API tokens; until then the user-facing API is open to the network.
      logger.warn(
        { bind: config.HOST_BIND_IP },
        "the task API has no user authentication yet: anyone who can reach this address can run containers; " +
          "bind HOST_BIND_IP to 127.0.0.1 or restrict access with a firewall",
      );
    }

    let closed = false;
    return {
      url,
      port,
      clusterToken,
      clusterTokenFile: tokenFile,
      config,
      store,
      async close() {
        if (closed) return;
        closed = true;
        scheduler.stop();
        dispatcher.stop();
        health.stop();
        await app.close();
        await nodes.stop();
        await store.close();
        logger.info("host stopped");
      },
    };
  } catch (error) {
    // Start-up failed (the port is taken, say): release what was started so an in-process caller can retry.
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined);
    throw error;
  }
}

/** Rebuilds the ledger and the queue from the store and sends again every dispatch not yet confirmed. */
async function restoreActiveTasks(
  store: Store,
  ledger: ResourceLedger,
  scheduler: Scheduler,
  dispatcher: Dispatcher,
): Promise<void> {
  const active = await store.listTasks({ statuses: ["assigning", "running", "paused"], order: "oldest" });
  for (const task of active) {
    if (task.assigned_node === null) continue;
    ledger.allocate({
      taskId: task.task_id,
      hostname: task.assigned_node,
      cores: task.required_cores,
      memoryBytes: task.required_memory_bytes ?? 0,
      gpuIds: task.required_gpus,
    });
    if (task.status === "assigning") dispatcher.enqueue(task.task_id);
  }

  const pending = await store.listTasks({ statuses: ["pending"], order: "oldest" });
  scheduler.enqueue(pending);
}

function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || address.startsWith("127.");
}
