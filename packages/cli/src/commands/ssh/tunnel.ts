/** The client side of the host's SSH proxy, and what `ssh connect` and `ssh config` share. */

import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";

import type { Command } from "commander";

import { parsePort, resolveHostSettings, resolveToken, type CliRuntime, type GlobalOptions } from "../../context.js";
import { CliError } from "../../errors.js";

export const DEFAULT_SSH_PROXY_PORT = 8002;
const RESPONSE_TIMEOUT_MS = 30_000;

export interface ProxySettings {
  host: string;
  apiPort: number;
  proxyPort: number;
  /**
   * API token sent after the task id, needed when the host has AUTH_ENABLED: --token, KOHAKURIVER_TOKEN, or
   * the one `auth login` stored for this host.
   */
  token: string | null;
}

/** Resolves the proxy address: --proxy-port, then KOHAKURIVER_SSH_PROXY_PORT, then 8002; the host as for the API. */
export function resolveProxySettings(
  command: Command,
  runtime: CliRuntime,
  options: { proxyPort?: string; token?: string },
): ProxySettings {
  const { env } = runtime.io;
  const hostSettings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), env);
  const fromEnv = env.KOHAKURIVER_SSH_PROXY_PORT?.trim();
  let proxyPort = DEFAULT_SSH_PROXY_PORT;
  if (options.proxyPort !== undefined) proxyPort = parsePort(options.proxyPort, "--proxy-port");
  else if (fromEnv !== undefined && fromEnv !== "") proxyPort = parsePort(fromEnv, "KOHAKURIVER_SSH_PROXY_PORT");
  const token = options.token ?? resolveToken(env, hostSettings.url) ?? "";
  return { host: hostSettings.host, apiPort: hostSettings.port, proxyPort, token: token === "" ? null : token };
}

/**
 * Connects to the SSH proxy and requests a tunnel to a VPS. Resolves with the socket once the proxy
 * sent SUCCESS, plus any bytes that arrived after that line. Rejects with the proxy's reason otherwise.
 */
export function openTunnel(settings: ProxySettings, taskId: string): Promise<{ socket: Socket; early: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: settings.host, port: settings.proxyPort });
    let buffered = Buffer.alloc(0);
    const fail = (message: string): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new CliError(message));
    };
    const timer = setTimeout(
      () => fail(`SSH proxy at ${settings.host}:${settings.proxyPort} did not answer within 30 s`),
      RESPONSE_TIMEOUT_MS,
    );

    socket.once("connect", () => {
      socket.write(`REQUEST_TUNNEL ${taskId}${settings.token === null ? "" : ` ${settings.token}`}\n`);
    });
    socket.on("error", (error: NodeJS.ErrnoException) =>
      fail(
        `cannot reach the SSH proxy at ${settings.host}:${settings.proxyPort} (${error.code ?? error.message}); ` +
          "check the host address and HOST_SSH_PROXY_PORT (--proxy-port or KOHAKURIVER_SSH_PROXY_PORT)",
      ),
    );
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) {
        if (buffered.length > 4096) fail("the SSH proxy sent an answer without a line end");
        return;
      }
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      const line = buffered.subarray(0, newline).toString("utf8").trim();
      if (line === "SUCCESS") {
        resolve({ socket, early: buffered.subarray(newline + 1) });
      } else {
        socket.destroy();
        reject(new CliError(`SSH proxy rejected the tunnel to VPS ${taskId}: ${line.replace(/^ERROR\s*/, "")}`));
      }
    };
    socket.on("data", onData);
    socket.once("close", () => fail(`the SSH proxy closed the connection without an answer`));
  });
}

/** Returns the default private key file of a VPS: ~/.ssh/id-kohakuriver-{id}. */
export function defaultKeyFile(env: Record<string, string | undefined>, taskId: string): string {
  return join(env.HOME ?? homedir(), ".ssh", `id-kohakuriver-${taskId}`);
}

export function existingDefaultKey(env: Record<string, string | undefined>, taskId: string): string | null {
  const file = defaultKeyFile(env, taskId);
  return existsSync(file) ? file : null;
}

/** Returns the command that starts this CLI again: node, its options (a TypeScript loader, say) and the script. */
export function selfCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? "kohakuriver"];
}

/** Quotes one word for a POSIX shell, as ssh runs ProxyCommand through the user's shell. */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

/** Builds the ProxyCommand for a VPS: this CLI's `ssh proxy ID` with the host and ports made explicit. */
export function proxyCommandFor(settings: ProxySettings, taskId: string): string {
  const words = [
    ...selfCommand(),
    "--host",
    settings.host,
    "--port",
    String(settings.apiPort),
    "ssh",
    "proxy",
    taskId,
    "--proxy-port",
    String(settings.proxyPort),
  ];
  return words.map(shellWord).join(" ");
}
