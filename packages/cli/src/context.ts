/**
 * The state one CLI invocation shares between its commands: the streams, the environment, the host
 * address resolved from the global options, and the exit code that a command wants to return.
 */

import { HostClient } from "@kohakuriver/api";
import type { Command } from "commander";

import { credentialsApplyTo, readCredentials } from "./credentials.js";
import { UsageError } from "./errors.js";
import type { CliStream, Output } from "./output.js";

export const DEFAULT_HOST = "localhost";
export const DEFAULT_PORT = 8000;

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Record<string, string | undefined>;
  /** Stops long-running commands (host, runner, up, follow modes) as SIGINT would. Tests use it. */
  signal?: AbortSignal;
}

export interface CliRuntime {
  io: CliIo;
  output: Output;
  /** Set by commands whose exit code is not 0 on success, such as `task submit --wait`. */
  exitCode: number;
  /** The host URL once a command resolved it, so errors can name it. */
  hostUrl: string | undefined;
  /** Advice on choosing another port when one is in use, set by the commands that listen (up, host, runner). */
  portInUseHint?: string;
}

/** Origin of a setting's value, for `config show`. */
export type SettingSource = "option" | "environment" | "default";

export interface HostSettings {
  host: string;
  port: number;
  url: string;
  sources: { host: SettingSource; port: SettingSource };
}

export interface GlobalOptions {
  host?: string;
  port?: string;
  debug?: boolean;
}

/** Resolves the host address: the -H/-P options, then KOHAKURIVER_HOST/KOHAKURIVER_PORT, then localhost:8000. */
export function resolveHostSettings(options: GlobalOptions, env: Record<string, string | undefined>): HostSettings {
  const hostFromEnv = nonEmpty(env.KOHAKURIVER_HOST);
  const portFromEnv = nonEmpty(env.KOHAKURIVER_PORT);

  const host = options.host ?? hostFromEnv ?? DEFAULT_HOST;
  let hostSource: SettingSource = "default";
  if (options.host !== undefined) hostSource = "option";
  else if (hostFromEnv !== undefined) hostSource = "environment";

  let port = DEFAULT_PORT;
  let portSource: SettingSource = "default";
  if (options.port !== undefined) {
    port = parsePort(options.port, "--port");
    portSource = "option";
  } else if (portFromEnv !== undefined) {
    port = parsePort(portFromEnv, "KOHAKURIVER_PORT");
    portSource = "environment";
  }

  if (host.trim() === "" || /[\s/]/.test(host)) {
    throw new UsageError(
      `invalid host '${host}': use a host name or IP address such as 10.0.0.5, without a scheme or path`,
    );
  }
  const address = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return { host, port, url: `http://${address}:${port}`, sources: { host: hostSource, port: portSource } };
}

/** Parses a TCP port number. The error names `name`, the option or environment variable. */
export function parsePort(text: string, name: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`invalid port '${text}' for ${name}: use a number from 1 to 65535`);
  }
  return port;
}

/**
 * Builds the API client for a command from the global options, and records the URL for error messages.
 * The client sends the API token from KOHAKURIVER_TOKEN, or else the one in auth.json when it belongs
 * to this host.
 */
export function createClient(command: Command, runtime: CliRuntime): HostClient {
  const settings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), runtime.io.env);
  runtime.hostUrl = settings.url;
  return new HostClient({ baseUrl: settings.url, token: resolveToken(runtime.io.env, settings.url) });
}

/**
 * Builds the WebSocket URL of a host path from the global options, and records the host URL for error
 * messages. Returns the host's HTTP URL and the API token for it too, as createClient would use them.
 */
export function hostSocketUrl(
  command: Command,
  runtime: CliRuntime,
  path: string,
): { url: string; hostUrl: string; token: string | undefined } {
  const settings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), runtime.io.env);
  runtime.hostUrl = settings.url;
  return {
    url: `${settings.url.replace(/^http/, "ws")}${path}`,
    hostUrl: settings.url,
    token: resolveToken(runtime.io.env, settings.url),
  };
}

/** Returns the API token to send to `url`, or undefined when there is none. */
export function resolveToken(env: Record<string, string | undefined>, url: string): string | undefined {
  const fromEnv = nonEmpty(env.KOHAKURIVER_TOKEN);
  if (fromEnv !== undefined) return fromEnv;
  const stored = readCredentials(env);
  return stored !== undefined && credentialsApplyTo(stored, url) ? stored.token : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
