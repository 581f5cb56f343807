/**
 * `kohakuriver up`: a host and one runner in this process, for a single machine, bound to 127.0.0.1 with
 * all data under one directory (the way `nomad agent -dev` works).
 */

import { mkdirSync } from "node:fs";

import { formatBytes, HostClient, type NodeResponse } from "@kohakuriver/api";
import { createLogger, kohakuriverHome, sleep, type Logger } from "@kohakuriver/common";
import type { HostHandle } from "@kohakuriver/host";
import type { RunnerHandle } from "@kohakuriver/runner";
import type { Command } from "commander";

import { DEFAULT_PORT, parsePort, type CliRuntime } from "../context.js";
import { credentialsApplyTo, credentialsFile, readCredentials, writeCredentials } from "../credentials.js";
import { CliError, UsageError } from "../errors.js";
import { runUntilInterrupted, whenAborted } from "../interrupt.js";
import type { Output } from "../output.js";
import { claimPidFile, releasePidFile, upPidFile } from "../pid-file.js";
import { plural } from "../plural.js";
import type { UpSettings } from "./up-config.js";

interface UpOptions {
  dataDir?: string;
  port?: string;
  runnerPort?: string;
  sshProxyPort?: string;
  name?: string;
}

const DEFAULT_RUNNER_PORT = 8001;

const DEFAULT_SSH_PROXY_PORT = 8002;

/** How long `up` waits for its runner to show up online before it warns. */
const REGISTRATION_TIMEOUT_MS = 30_000;

export function registerUp(program: Command, runtime: CliRuntime): void {
  program
    .command("up")
    .summary("run a host and one runner on this machine, on 127.0.0.1 (stops on Ctrl-C or 'kohakuriver down')")
    .option(
      "--data-dir <dir>",
      "directory for the database, shared storage and logs (default: KOHAKURIVER_HOME or ~/.kohakuriver)",
    )
    .option("--port <port>", `host API port; 0 picks a free one (default: ${DEFAULT_PORT})`)
    .option("--runner-port <port>", `runner API port; 0 picks a free one (default: ${DEFAULT_RUNNER_PORT})`)
    .option("--ssh-proxy-port <port>", "SSH proxy port; 0 picks a free one (default: 8002)")
    .option("--name <node>", "node name of the runner (default: this machine's host name)")
    .action(async (options: UpOptions) => {
      const { io } = runtime;
      runtime.portInUseHint =
        "choose other ports with 'kohakuriver up --port N --runner-port M --ssh-proxy-port P' (0 picks a free port)";
      const settings: UpSettings = {
        dataDir: options.dataDir ?? kohakuriverHome(io.env),
        hostPort: options.port === undefined ? DEFAULT_PORT : parseUpPort(options.port, "--port"),
        runnerPort:
          options.runnerPort === undefined ? DEFAULT_RUNNER_PORT : parseUpPort(options.runnerPort, "--runner-port"),
        sshProxyPort:
          options.sshProxyPort === undefined
            ? DEFAULT_SSH_PROXY_PORT
            : parseUpPort(options.sshProxyPort, "--ssh-proxy-port"),
        nodeName: options.name,
        env: io.env,
      };
      mkdirSync(settings.dataDir, { recursive: true });

      const pidFile = upPidFile(settings.dataDir);
      const runningPid = claimPidFile(pidFile);
      if (runningPid !== null) {
        throw new CliError(
          `kohakuriver up is already running for ${settings.dataDir} (pid ${runningPid}); ` +
            `stop it with '${downCommand(settings, io.env)}' or Ctrl-C in its terminal`,
        );
      }

      try {
        await runUntilInterrupted(io, (signal) => runCluster(settings, runtime, signal));
      } finally {
        releasePidFile(pidFile);
      }
    });
}

async function runCluster(settings: UpSettings, runtime: CliRuntime, signal: AbortSignal): Promise<void> {
  const { output } = runtime;
  // Loaded here, not at the top, so that client commands start without loading the daemons' modules.
  const [{ startHost }, { startRunner }, { loadUpHostConfig, loadUpRunnerConfig }] = await Promise.all([
    import("@kohakuriver/host"),
    import("@kohakuriver/runner"),
    import("./up-config.js"),
  ]);
  const hostConfig = loadUpHostConfig(settings);
  const logger = createLogger({
    name: "kohakuriver",
    level: hostConfig.LOG_LEVEL,
    destination: output.logStream as NodeJS.WritableStream,
  });

  let host: HostHandle | undefined;
  let runner: RunnerHandle | undefined;
  try {
    host = await startHost({ config: hostConfig, logger });
    runtime.hostUrl = host.url;
    const runnerConfig = loadUpRunnerConfig(settings, host.port);
    runner = await startRunner({ config: runnerConfig, clusterToken: host.clusterToken, logger });

    const token = await provideCliToken(settings, host, output);
    const node = await waitForNode(new HostClient({ baseUrl: host.url, token }), runner.nodeName, signal);
    printReady(output, settings, host, runner.nodeName, node);

    await whenAborted(signal);
    output.note("stopping the runner and the host");
  } finally {
    await closeQuietly(runner, logger, "runner");
    await closeQuietly(host, logger, "host");
  }
}

/** Name of the admin account whose API token `up` gives the local CLI. */
const LOCAL_ADMIN = "admin";

/**
 * Returns an admin API token for the CLI, stored in auth.json of the data directory, which is the CLI's
 * own when the data directory is KOHAKURIVER_HOME. A stored token that still works for this host is
 * reused; a file for another host is left alone.
 */
async function provideCliToken(settings: UpSettings, host: HostHandle, output: Output): Promise<string> {
  const fileEnv = { KOHAKURIVER_HOME: settings.dataDir };
  const stored = readCredentials(fileEnv);
  if (stored !== undefined && credentialsApplyTo(stored, host.url)) {
    const reachable = await new HostClient({ baseUrl: host.url, token: stored.token })
      .me()
      .then(() => true)
      .catch(() => false);
    if (reachable) return stored.token;
  }

  const created = await host.createLocalAdminToken(LOCAL_ADMIN, "kohakuriver-up");
  if (stored === undefined || credentialsApplyTo(stored, host.url)) {
    writeCredentials(fileEnv, {
      token: created.token,
      token_id: created.tokenId,
      token_name: created.tokenName,
      username: created.username,
      role: created.role,
      url: host.url,
    });
  } else {
    output.warn(
      `${credentialsFile(fileEnv)} holds a login for ${stored.url ?? "another host"}, so the CLI is not logged in ` +
        "to this one; run 'kohakuriver auth logout' and restart 'kohakuriver up'",
    );
  }
  return created.token;
}

/** Polls the host until the runner's node is online. Returns undefined after the timeout or on abort. */
async function waitForNode(
  client: HostClient,
  nodeName: string,
  signal: AbortSignal,
): Promise<NodeResponse | undefined> {
  const deadline = Date.now() + REGISTRATION_TIMEOUT_MS;
  while (Date.now() < deadline && !signal.aborted) {
    const node = (await client.listNodes()).find((item) => item.hostname === nodeName);
    if (node?.status === "online") return node;
    await sleep(200, signal);
  }
  return undefined;
}

function printReady(
  output: Output,
  settings: UpSettings,
  host: HostHandle,
  nodeName: string,
  node: NodeResponse | undefined,
): void {
  const { colors } = output;
  if (node === undefined) {
    output.warn(
      `runner ${nodeName} has not registered with the host within ${REGISTRATION_TIMEOUT_MS / 1000} s; see the log above`,
    );
  }
  const capacity =
    node === undefined
      ? ""
      : ` with ${plural(node.total_cores, "core")} and ${node.memory_total_bytes === null ? "unknown" : formatBytes(node.memory_total_bytes)} memory`;
  const portOption = host.port === DEFAULT_PORT ? "" : ` -P ${host.port}`;

  output.line(`${colors.green("kohakuriver is up:")} host ${host.url}, node ${colors.bold(nodeName)}${capacity}`);
  output.line(`data in ${settings.dataDir}`);
  output.line(
    host.sshProxyPort === DEFAULT_SSH_PROXY_PORT
      ? `SSH proxy on port ${host.sshProxyPort}`
      : `SSH proxy on port ${host.sshProxyPort}; for 'kohakuriver ssh' set KOHAKURIVER_SSH_PROXY_PORT=${host.sshProxyPort}`,
  );
  if (settings.dataDir !== kohakuriverHome(settings.env)) {
    output.line(`CLI token in ${settings.dataDir}/auth.json; use it with KOHAKURIVER_HOME=${settings.dataDir}`);
  }
  output.line(`try:  kohakuriver${portOption} task submit --wait -- echo hello`);
  output.line(`stop: Ctrl-C, or '${downCommand(settings, settings.env)}'`);
}

function downCommand(settings: UpSettings, env: Record<string, string | undefined>): string {
  return settings.dataDir === kohakuriverHome(env)
    ? "kohakuriver down"
    : `kohakuriver down --data-dir ${settings.dataDir}`;
}

function parseUpPort(text: string, option: string): number {
  if (text.trim() === "0") return 0;
  try {
    return parsePort(text, option);
  } catch {
    throw new UsageError(`invalid port '${text}' for ${option}: use a number from 0 to 65535 (0 picks a free port)`);
  }
}

async function closeQuietly(
  handle: { close(): Promise<void> } | undefined,
  logger: Logger,
  name: string,
): Promise<void> {
  if (handle === undefined) return;
  try {
    await handle.close();
  } catch (error) {
    logger.error({ err: error }, `${name} did not stop cleanly`);
  }
}
