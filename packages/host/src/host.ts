/**
 * Starts the host: store, cluster token, resource ledger, scheduler, dispatcher, node registry and the
 * HTTP API. `close()` stops everything but leaves tasks and their containers running.
 */

import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { ConfigError, createLogger, type Logger } from "@kohakuriver/common";
import Docker from "dockerode";

import type { RegisteredRoute } from "./auth/access-control.js";
import { AccountService } from "./auth/account-service.js";
import { AuditLog } from "./auth/audit-log.js";
import { LoginThrottle, type LoginThrottleOptions } from "./auth/login-throttle.js";
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
import { RunnerRelay } from "./sessions/runner-relay.js";
import { TaskTargets } from "./sessions/task-target.js";
import { Scheduler } from "./scheduler/scheduler.js";
import { SnowflakeGenerator } from "./scheduler/snowflake.js";
import { createStore } from "./store/index.js";
import type { Store } from "./store/types.js";
import { TaskService } from "./tasks/task-service.js";
import { SshProxy, accountTokenAuthorizer } from "./vps/ssh-proxy.js";
import { VpsService } from "./vps/vps-service.js";

export interface StartHostOptions {
  config: HostConfig;
  logger?: Logger;
  /** Start with AUTH_ENABLED false on an address other than loopback, where anyone who reaches it is admin. */
  insecure?: boolean;
  /** Overrides of the failed-login throttling (tests shorten the delays). */
  loginThrottle?: Partial<LoginThrottleOptions>;
}

export interface LocalAdminToken {
  token: string;
  tokenId: number;
  tokenName: string;
  username: string;
  role: string;
}

export interface HostHandle {
  /** Base URL of the API, with the real port when HOST_PORT was 0. */
  url: string;
  port: number;
  /** Port of the SSH proxy, the real one when HOST_SSH_PROXY_PORT was 0. */
  sshProxyPort: number;
  clusterToken: string;
  clusterTokenFile: string;
  config: HostConfig;
  store: Store;
  /** Every HTTP route and WebSocket the API serves, with its method. */
  routes: readonly RegisteredRoute[];
  /**
   * Creates an API token of the local admin account `username` (created when missing), for the CLI of
   * `kohakuriver up`. The token is returned once and stored only as a hash.
   */
  createLocalAdminToken(username: string, tokenName: string): Promise<LocalAdminToken>;
  close(): Promise<void>;
}

export async function startHost(options: StartHostOptions): Promise<HostHandle> {
  const { config } = options;
  // Subsystems get their own `component`; `logger` is for the host's own start and stop lines.
  const rootLogger = options.logger ?? createLogger({ name: "host", level: config.LOG_LEVEL });
  const logger = rootLogger.child({ component: "host" });
  checkExposure(config, options.insecure === true);

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

    const vps = new VpsService({
      config,
      store,
      ledger,
      scheduler,
      runners,
      ids,
      logger: rootLogger.child({ component: "vps" }),
    });
    const audit = new AuditLog(store, rootLogger.child({ component: "audit" }), config.AUTH_ENABLED);
    const accounts = new AccountService({
      config,
      store,
      audit,
      throttle: new LoginThrottle(options.loginThrottle),
      logger: rootLogger.child({ component: "accounts" }),
    });
    const hostDocker = new Docker({ socketPath: config.DOCKER_SOCKET });
    const environments = new EnvironmentService({
      docker: hostDocker,
      tarballs: new TarballDirectory(containerDir(config)),
      cpuFraction: config.ENV_CONTAINER_CPU_LIMIT,
      memoryFraction: config.ENV_CONTAINER_MEM_LIMIT,
      keepCount: config.TARBALL_KEEP_COUNT,
      logger: rootLogger.child({ component: "environments" }),
    });

    const targets = new TaskTargets({ store, ledger });
    const { app, routes } = await buildHostServer({
      tasks,
      vps,
      store,
      nodes,
      ledger,
      health,
      clusterToken,
      config,
      accounts,
      audit,
      environments,
      runners,
      hostDocker,
      targets,
      relay: new RunnerRelay({
        targets,
        clusterToken,
        logger: rootLogger.child({ component: "sessions" }),
      }),
      logger: rootLogger,
    });
    undo.push(() => app.close());
    await app.listen({ host: config.HOST_BIND_IP, port: config.HOST_PORT });
    const port = (app.server.address() as AddressInfo).port;
    const sshProxy = new SshProxy({
      store,
      ledger,
      logger: rootLogger.child({ component: "ssh-proxy" }),
      authorize: accountTokenAuthorizer({
        config,
        clusterToken,
        store,
        logger: rootLogger.child({ component: "access" }),
      }),
    });
    const sshProxyPort = await sshProxy.listen(config.HOST_BIND_IP, config.HOST_SSH_PROXY_PORT);
    undo.push(() => sshProxy.close());
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
    logger.info({ url, bind: config.HOST_BIND_IP, port, sshProxyPort, store: store.dialect }, "host started");
    if (!config.AUTH_ENABLED && !isLoopback(config.HOST_BIND_IP)) {
      logger.warn(
        { bind: config.HOST_BIND_IP },
        "started with --insecure: authentication is disabled and anyone who can reach this address is admin",
      );
    }
    if (config.AUTH_ENABLED) await warnWithoutAdmin(store, config, logger);

    let closed = false;
    return {
      url,
      port,
      sshProxyPort,
      clusterToken,
      clusterTokenFile: tokenFile,
      config,
      store,
      routes,
      async createLocalAdminToken(username: string, tokenName: string): Promise<LocalAdminToken> {
        const user = await accounts.ensureLocalAdmin(username);
        const { record, token } = await accounts.issueToken(user.id, tokenName);
        await audit.record(null, {
          action: "token.create",
          target: `token:${record.id}`,
          actor: { id: user.id, username: user.username },
          detail: { name: tokenName, by: "kohakuriver up" },
        });
        return { token, tokenId: record.id, tokenName, username: user.username, role: user.role };
      },
      async close() {
        if (closed) return;
        closed = true;
        scheduler.stop();
        dispatcher.stop();
        health.stop();
        await sshProxy.close();
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

/**
 * Refuses to serve an unauthenticated API beyond loopback: with AUTH_ENABLED false every caller is admin
 * and may run containers.
 */
function checkExposure(config: HostConfig, insecure: boolean): void {
  if (config.AUTH_ENABLED || isLoopback(config.HOST_BIND_IP) || insecure) return;
  throw new ConfigError(
    `refusing to start: HOST_BIND_IP is ${config.HOST_BIND_IP}, which other machines can reach, and AUTH_ENABLED is ` +
      "false, so anyone who reaches the host could run containers as admin. Set AUTH_ENABLED = true in host.toml " +
      '(create the first admin with ADMIN_REGISTER_SECRET), or bind HOST_BIND_IP = "127.0.0.1", or start the host ' +
      "with --insecure to accept the risk",
  );
}

/** Warns when no one can sign in, because no account exists and neither admin secret is set. */
async function warnWithoutAdmin(store: Store, config: HostConfig, logger: Logger): Promise<void> {
  if (config.ADMIN_SECRET !== "" || config.ADMIN_REGISTER_SECRET !== "") return;
  if ((await store.auth.listUsers()).length > 0) return;
  logger.warn(
    "authentication is enabled but no account exists and ADMIN_REGISTER_SECRET is empty; set it and register " +
      "the first admin with 'kohakuriver auth register --invite <secret>'",
  );
}

function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || address.startsWith("127.");
}
