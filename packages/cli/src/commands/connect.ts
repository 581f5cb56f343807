/**
 * `kohakuriver connect ID`: an interactive shell in a running task or VPS through the host's terminal
 * WebSocket, without SSH, so it also works for a VPS created with SSH disabled.
 */

import type { Command } from "commander";

import { hostSocketUrl, type CliRuntime } from "../context.js";
import { checkTaskId } from "../options.js";
import { runTerminalClient } from "../terminal-client.js";

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
