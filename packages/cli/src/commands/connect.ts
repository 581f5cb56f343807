/**
 * `kohakuriver connect ID`: an interactive shell in a running task or VPS through the host's terminal
 * WebSocket, without SSH, so it also works for a VPS created with SSH disabled.
 */

import type { Command } from "commander";

import { resolveHostSettings, resolveToken, type CliRuntime, type GlobalOptions } from "../context.js";
import { checkTaskId } from "../options.js";
import { runTerminalClient } from "../terminal-client.js";

/** Builds the WebSocket URL of a host path from the CLI's host settings. */
export function hostSocketUrl(
  command: Command,
  runtime: CliRuntime,
  path: string,
): { url: string; token: string | undefined } {
  const settings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), runtime.io.env);
  runtime.hostUrl = settings.url;
  return {
    url: `${settings.url.replace(/^http/, "ws")}${path}`,
    token: resolveToken(runtime.io.env, settings.url),
  };
}

export function registerConnect(program: Command, runtime: CliRuntime): void {
  program
    .command("connect")
    .summary("open an interactive shell in a running task or VPS (bash, else sh); leave with exit or Ctrl-D")
    .argument("<id>", "task or VPS id")
    .action(async (id: string, _options: unknown, command: Command) => {
      const taskId = checkTaskId(id);
      const target = hostSocketUrl(command, runtime, `/ws/task/${taskId}/terminal`);
      runtime.exitCode = await runTerminalClient({ ...target, label: `task ${taskId}` });
    });
}
