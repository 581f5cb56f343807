/**
 * Test bed for end-to-end tests: a host and runners as separate `kohakuriver` processes on loopback, with
 * their own temp directories, ports and node names, driven through the real CLI and the real Docker Engine.
 * Everything started here is stopped in `cleanup()`: processes, and every container labelled with one of
 * this cluster's node names.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { after, before } from "node:test";

import { HostClient, type TaskResponse } from "@kohakuriver/api";
import Docker from "dockerode";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(REPO_ROOT, "packages/cli/bin/kohakuriver.js");
export const docker = new Docker({ socketPath: process.env.KOHAKURIVER_TEST_DOCKER_SOCKET ?? "/var/run/docker.sock" });

/** An image on a registry at a closed loopback port: pulling it fails at once without leaving the machine. */
export const UNREACHABLE_REGISTRY_IMAGE = "127.0.0.1:1/kohakuriver-test/unreachable:latest";

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ClusterOptions {
  /** Extra host.toml keys. */
  host?: Record<string, unknown>;
  /** Extra runner.toml keys, applied to every runner. */
  runner?: Record<string, unknown>;
  /** Address the host listens on and clients use (default 127.0.0.1); the netns bed uses its bridge. */
  hostAddress?: string;
}

export interface RunnerStartOptions {
  /** Command prefix that runs the runner elsewhere, such as NetnsNode.enter (nsenter into a namespace). */
  enter?: string[];
}

interface DaemonProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "kr-e2e-"));
  readonly id = Math.random().toString(36).slice(2, 8);
  /** A bridge network of this cluster's own, removed in cleanup(); a random /24 keeps clusters apart. */
  readonly networkName = `kr-e2e-${this.id}`;
  readonly networkSubnetPrefix = `10.213.${Math.floor(Math.random() * 250) + 1}`;
  hostPort = 0;
  client!: HostClient;
  private hostProcess: DaemonProcess | null = null;
  private readonly runners = new Map<string, DaemonProcess>();
  private readonly nodeNames = new Set<string>();

  constructor(private readonly options: ClusterOptions = {}) {}

  get hostAddress(): string {
    return this.options.hostAddress ?? "127.0.0.1";
  }

  get sharedDir(): string {
    return join(this.dir, "shared");
  }

  nodeName(index = 0): string {
    return `e2e-${this.id}-${index}`;
  }

  async startHost(): Promise<void> {
    if (this.hostPort === 0) this.hostPort = await freePort();
    const config = {
      HOST_BIND_IP: this.hostAddress,
      HOST_PORT: this.hostPort,
      HOST_SSH_PROXY_PORT: await freePort(),
      DB_FILE: join(this.dir, "host", "kohakuriver.db"),
      SHARED_DIR: this.sharedDir,
      HEARTBEAT_INTERVAL_SECONDS: 1,
      HEARTBEAT_TIMEOUT_FACTOR: 4,
      CLEANUP_CHECK_INTERVAL_SECONDS: 0.5,
      LOG_LEVEL: "debug",
      // Off, because the default environment would be created in the Docker Engine that all clusters share
      // and its base image pulled from a registry. Tests that need it turn it on with a closed registry.
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      INITIAL_BASE_IMAGE: UNREACHABLE_REGISTRY_IMAGE,
      ...this.options.host,
    };
    const file = join(this.dir, "host.toml");
    writeFileSync(file, toToml(config));
    // A host on a namespace bridge address is not on loopback: without authentication it needs --insecure.
    const authEnabled = (config as Record<string, unknown>).AUTH_ENABLED === true;
    const insecure = this.hostAddress !== "127.0.0.1" && !authEnabled ? ["--insecure"] : [];
    this.hostProcess = this.spawnDaemon(["host", "--config", file, ...insecure], join(this.dir, "host.log"));
    // With ADMIN_SECRET set (authentication on), the harness's own client acts as admin through X-Admin-Token.
    const adminSecret = this.options.host?.ADMIN_SECRET;
    this.client = new HostClient({
      baseUrl: `http://${this.hostAddress}:${this.hostPort}`,
      timeoutMs: 15_000,
      headers: typeof adminSecret === "string" ? { "x-admin-token": adminSecret } : undefined,
    });
    await waitFor(
      async () => {
        await this.client.request("GET", "/api/version");
        return true;
      },
      20_000,
      "host did not answer",
    );
  }

  async startRunner(
    index = 0,
    extra: Record<string, unknown> = {},
    startOptions: RunnerStartOptions = {},
  ): Promise<string> {
    const name = this.nodeName(index);
    this.nodeNames.add(name);

    // A restarted runner keeps its port, as a real node's runner would.
    const portFile = join(this.dir, `runner-${index}.port`);
    let port: number;
    try {
      port = Number(readFileSync(portFile, "utf8"));
    } catch {
      port = await freePort();
      writeFileSync(portFile, String(port));
    }

    const config = {
      RUNNER_BIND_IP: "127.0.0.1",
      RUNNER_PORT: port,
      RUNNER_HOSTNAME: name,
      HOST_ADDRESS: this.hostAddress,
      HOST_PORT: this.hostPort,
      SHARED_DIR: this.sharedDir,
      LOCAL_TEMP_DIR: join(this.dir, `local-${index}`),
      RUNNER_STATE_DIR: join(this.dir, `state-${index}`),
      CLUSTER_TOKEN_FILE: join(this.dir, "host", "cluster-token"),
      DOCKER_NETWORK_NAME: this.networkName,
      DOCKER_NETWORK_SUBNET: `${this.networkSubnetPrefix}.0/24`,
      DOCKER_NETWORK_GATEWAY: `${this.networkSubnetPrefix}.1`,
      HEARTBEAT_INTERVAL_SECONDS: 1,
      LOG_LEVEL: "debug",
      ...this.options.runner,
      ...extra,
    };
    const file = join(this.dir, `runner-${index}.toml`);
    writeFileSync(file, toToml(config));

    const spawnedAt = Date.now();
    this.runners.set(
      name,
      this.spawnDaemon(["runner", "--config", file], join(this.dir, `runner-${index}.log`), startOptions.enter),
    );
    // The host may still list the node as online from before; wait for a heartbeat from this process.
    await waitFor(
      async () => {
        const entry = (await this.client.listNodes()).find((candidate) => candidate.hostname === name);
        return entry?.status === "online" && Date.parse(entry.last_heartbeat ?? "") >= spawnedAt;
      },
      20_000,
      `runner ${name} did not send a heartbeat`,
    );
    return name;
  }

  async waitForNode(name: string, status: "online" | "offline", timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const nodes = await this.client.listNodes();
        return nodes.some((node) => node.hostname === name && node.status === status);
      },
      timeoutMs,
      `node ${name} did not become ${status}`,
    );
  }

  /** Sends a signal to the host process and waits for it to exit. */
  async killHost(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const daemon = this.hostProcess;
    this.hostProcess = null;
    if (daemon === null) return;
    daemon.child.kill(signal);
    await daemon.exited;
  }

  async killRunner(index = 0, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const daemon = this.runners.get(this.nodeName(index));
    this.runners.delete(this.nodeName(index));
    if (daemon === undefined) return;
    daemon.child.kill(signal);
    await daemon.exited;
  }

  /** Returns the process id of the host or of a runner, for reading its memory use from /proc. */
  daemonPid(name: "host" | number): number | undefined {
    const daemon = name === "host" ? this.hostProcess : this.runners.get(this.nodeName(name));
    return daemon?.child.pid;
  }

  /** Sends a signal to a runner without waiting (SIGSTOP and SIGCONT freeze and thaw it). */
  signalRunner(index: number, signal: NodeJS.Signals): void {
    this.runners.get(this.nodeName(index))?.child.kill(signal);
  }

  /** Runs the real CLI against this cluster's host; `input` is written to its stdin. */
  cli(
    args: string[],
    options: { timeoutMs?: number; env?: Record<string, string>; input?: string } = {},
  ): Promise<CliResult> {
    return runCli(args, {
      env: {
        KOHAKURIVER_HOST: this.hostAddress,
        KOHAKURIVER_PORT: String(this.hostPort),
        KOHAKURIVER_HOME: join(this.dir, "home"),
        ...options.env,
      },
      timeoutMs: options.timeoutMs ?? 60_000,
      input: options.input,
    });
  }

  /** Starts the real CLI for a command that runs until stopped, such as `forward`. */
  spawnCli(args: string[], options: { env?: Record<string, string> } = {}): LongRunningCli {
    return new LongRunningCli(args, {
      KOHAKURIVER_HOST: this.hostAddress,
      KOHAKURIVER_PORT: String(this.hostPort),
      KOHAKURIVER_HOME: join(this.dir, "home"),
      ...options.env,
    });
  }

  async waitForStatus(taskId: string, statuses: string | string[], timeoutMs = 60_000): Promise<TaskResponse> {
    const wanted = new Set(Array.isArray(statuses) ? statuses : [statuses]);
    let last: TaskResponse | undefined;
    await waitFor(
      async () => {
        last = await this.client.getTask(taskId);
        return wanted.has(last.status);
      },
      timeoutMs,
      () =>
        `task ${taskId} did not reach ${[...wanted].join("/")}; it is ${last?.status ?? "unknown"} (${last?.error_message ?? ""})`,
    );
    return last as TaskResponse;
  }

  /** Containers of this cluster's nodes, optionally for one task id. */
  async containers(taskId?: string): Promise<Docker.ContainerInfo[]> {
    const all: Docker.ContainerInfo[] = [];
    for (const name of this.nodeNames) {
      const filters: Record<string, string[]> = { label: [`kohakuriver.node=${name}`] };
      if (taskId !== undefined) filters.label?.push(`kohakuriver.task_id=${taskId}`);
      all.push(...(await docker.listContainers({ all: true, filters })));
    }
    return all;
  }

  async cleanup(): Promise<void> {
    // SIGTERM first, so that profiles and logs are written; SIGKILL whatever has not exited after 5 s.
    const daemons = [...this.runners.values(), ...(this.hostProcess === null ? [] : [this.hostProcess])];
    this.runners.clear();
    this.hostProcess = null;
    for (const daemon of daemons) daemon.child.kill("SIGTERM");
    await Promise.all(
      daemons.map(async (daemon) => {
        const timer = setTimeout(() => daemon.child.kill("SIGKILL"), 5000);
        await daemon.exited;
        clearTimeout(timer);
      }),
    );
    for (const container of await this.containers()) {
      await docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
    // Snapshots of VPS sessions are images committed from containers, so they carry the node label too.
    for (const name of this.nodeNames) {
      const images = await docker.listImages({ filters: { label: [`kohakuriver.node=${name}`] } });
      for (const image of images) {
        for (const tag of image.RepoTags ?? [image.Id]) {
          await docker
            .getImage(tag)
            .remove({ force: true })
            .catch(() => undefined);
        }
      }
    }
    await docker
      .getNetwork(this.networkName)
      .remove()
      .catch(() => undefined);
    if (process.env.KOHAKURIVER_TEST_KEEP !== "1") rmSync(this.dir, { recursive: true, force: true });
  }

  /** Returns the last lines of a daemon's log, for failure messages. */
  logTail(name: "host" | `runner-${number}`, lines = 40): string {
    try {
      return readFileSync(join(this.dir, `${name}.log`), "utf8")
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "";
    }
  }

  private spawnDaemon(args: string[], logFile: string, enter: string[] = []): DaemonProcess {
    const log = createWriteStream(logFile, { flags: "a" });
    // KOHAKURIVER_TEST_NODE_ARGS passes extra Node.js flags to the daemons, such as --cpu-prof for profiling.
    const nodeArgs = (process.env.KOHAKURIVER_TEST_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
    // The config files written here set these keys; variables from scripts/test.sh would override them.
    const env: NodeJS.ProcessEnv = { ...process.env, KOHAKURIVER_HOME: join(this.dir, "home") };
    delete env.KOHAKURIVER_DEFAULT_CONTAINER_BOOTSTRAP;
    delete env.KOHAKURIVER_INITIAL_BASE_IMAGE;
    const command = [...enter, process.execPath, ...nodeArgs, CLI, ...args];
    const child = spawn(command[0] as string, command.slice(1), {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
    return { child, exited };
  }
}

/** A CLI process that runs until stopped; `stop()` sends SIGTERM and waits for the exit code. */
export class LongRunningCli {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolveExit) => this.child.once("exit", (code) => resolveExit(code)));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Waits until stdout matches `pattern` and returns the match; fails when the process exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    let match: RegExpExecArray | null = null;
    await waitFor(
      async () => {
        match = pattern.exec(this.stdout);
        if (match === null && exited) throw new Error(`the CLI exited; stderr: ${this.stderr}`);
        return match !== null || exited;
      },
      timeoutMs,
      () => `the CLI did not print ${String(pattern)}; stdout: ${this.stdout} stderr: ${this.stderr}`,
    );
    if (match === null) throw new Error(`the CLI exited before printing ${String(pattern)}; stderr: ${this.stderr}`);
    return match;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kohakuriver ${args.join(" ")} timed out; stdout: ${stdout} stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolveResult({ code: code ?? -1, stdout, stderr });
    });
  });
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  message: string | (() => string),
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolveSleep) => setTimeout(resolveSleep, intervalMs));
  }
  const text = typeof message === "string" ? message : message();
  throw new Error(
    `${text} within ${timeoutMs} ms${lastError === undefined ? "" : ` (last error: ${String(lastError)})`}`,
  );
}

function toToml(values: Record<string, unknown>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
    .join("\n");
}

/** True when the tests must not skip for a missing Docker Engine. */
export const IN_CI = process.env.CI === "true";

export async function dockerAvailable(): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

/** The skip reason for suites that need the Docker Engine, or false. In CI a missing engine fails instead. */
export const dockerSkip: string | false =
  !IN_CI && !(await dockerAvailable()) ? "no Docker Engine answers (set CI=true to make this a failure)" : false;

/**
 * Starts a host and one runner before the enclosing suite and removes everything after it. `node()`
 * returns the runner's node name once it is online.
 */
export function useCluster(options: ClusterOptions = {}): { cluster: TestCluster; node: () => string } {
  const cluster = new TestCluster(options);
  let node = "";
  before(async () => {
    await cluster.startHost();
    node = await cluster.startRunner(0);
  });
  after(async () => {
    await cluster.cleanup();
  });
  return { cluster, node: () => node };
}

/**
 * Creates an environment container from the base image on the cluster's host before the enclosing suite
 * (after the cluster has started) and removes it after the suite. Returns the environment name.
 */
export function useEnvironmentContainer(cluster: TestCluster, prefix: string): string {
  const environment = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  before(async () => {
    await cluster.client.createEnvironmentContainer({
      image_name: "kohakuriver/kohakuriver-base:base",
      container_name: environment,
    });
  });
  after(async () => {
    await docker
      .getContainer(`kohakuriver-env-${environment}`)
      .remove({ force: true })
      .catch(() => undefined);
  });
  return environment;
}
