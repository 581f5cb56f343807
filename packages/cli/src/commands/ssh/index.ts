/**
 * `kohakuriver ssh connect|proxy|config`: SSH into a VPS through the host's SSH proxy. `proxy` relays
 * stdin and stdout through one tunnel and is what the ProxyCommand of `ssh config` runs, so plain
 * `ssh kohakuriver-vps-{id}` works with the stanzas that `config` writes.
 */

import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import type { VpsResponse } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { CliError } from "../../errors.js";
import { checkTaskId } from "../../options.js";
import { existingDefaultKey, openTunnel, proxyCommandFor, resolveProxySettings } from "./tunnel.js";

interface ProxyOptions {
  proxyPort?: string;
  token?: string;
}

/**
 * Runs the OpenSSH client against a VPS with this CLI as its ProxyCommand; resolves with ssh's exit code.
 */
export async function runSshClient(
  runtime: CliRuntime,
  command: Command,
  id: string,
  remoteCommand: string[],
  options: ProxyOptions & { key?: string; user?: string },
): Promise<number> {
  const settings = resolveProxySettings(command, runtime, options);
  const key = options.key ?? existingDefaultKey(runtime.io.env, id);
  const args = [
    "-o",
    `ProxyCommand=${proxyCommandFor(settings, id)}`,
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    ...(key === null ? [] : ["-i", key, "-o", "IdentitiesOnly=yes"]),
    `${options.user ?? "root"}@kohakuriver-vps-${id}`,
    ...remoteCommand,
  ];
  const env = { ...process.env, ...(settings.token === null ? {} : { KOHAKURIVER_TOKEN: settings.token }) };
  const child = spawn("ssh", args, { stdio: "inherit", env });
  return new Promise<number>((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          error.code === "ENOENT"
            ? "the OpenSSH client 'ssh' is not installed; install it (Debian: apt-get install openssh-client)"
            : `cannot run ssh: ${error.message}`,
        ),
      ),
    );
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 255)));
  });
}

export function registerSshCommands(program: Command, runtime: CliRuntime): void {
  const ssh = program.command("ssh").summary("SSH into a VPS through the host's SSH proxy");

  ssh
    .command("connect")
    .summary("open an SSH session to a VPS with the OpenSSH client, through the host's SSH proxy")
    .argument("<id>", "VPS task id")
    .option("-i, --key <file>", "private key file (default: ~/.ssh/id-kohakuriver-{id} when it exists)")
    .option("-u, --user <user>", "user to log in as", "root")
    .option("--proxy-port <port>", "SSH proxy port (env KOHAKURIVER_SSH_PROXY_PORT, default 8002)")
    .option(
      "--token <token>",
      "API token for a host with AUTH_ENABLED (default: KOHAKURIVER_TOKEN or the one from auth login)",
    )
    .argument("[command...]", "command to run instead of a login shell (after --)")
    .action(
      async (
        taskId: string,
        remoteCommand: string[],
        options: ProxyOptions & { key?: string; user: string },
        command: Command,
      ) => {
        runtime.exitCode = await runSshClient(runtime, command, checkTaskId(taskId), remoteCommand, options);
      },
    );

  ssh
    .command("proxy")
    .summary("relay stdin and stdout to a VPS's sshd through the host's SSH proxy (for ssh's ProxyCommand)")
    .argument("<id>", "VPS task id")
    .option("--proxy-port <port>", "SSH proxy port (env KOHAKURIVER_SSH_PROXY_PORT, default 8002)")
    .option(
      "--token <token>",
      "API token for a host with AUTH_ENABLED (default: KOHAKURIVER_TOKEN or the one from auth login)",
    )
    .action(async (taskId: string, options: ProxyOptions, command: Command) => {
      const settings = resolveProxySettings(command, runtime, options);
      const { socket, early } = await openTunnel(settings, checkTaskId(taskId));
      if (early.length > 0) process.stdout.write(early);
      socket.pipe(process.stdout);
      process.stdin.pipe(socket);
      await new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.once("error", () => resolve());
        process.stdin.once("end", () => socket.end());
      });
      process.stdin.unpipe(socket);
      process.stdin.pause();
    });

  ssh
    .command("config")
    .summary("print or write ssh_config stanzas 'Host kohakuriver-vps-{id}' for the active VPS sessions")
    .option("-o, --output <file>", "write to this file (mode 0600) instead of printing; include it from ~/.ssh/config")
    .option("--proxy-port <port>", "SSH proxy port (env KOHAKURIVER_SSH_PROXY_PORT, default 8002)")
    .action(async (options: ProxyOptions & { output?: string }, command: Command) => {
      const client = createClient(command, runtime);
      const settings = resolveProxySettings(command, runtime, options);
      const sessions = await client.request<VpsResponse[]>("GET", "/api/vps/status");
      const stanzas = sessions
        .filter((vps) => vps.ssh_key_mode !== "disabled")
        .map((vps) => {
          const key = existingDefaultKey(runtime.io.env, vps.task_id);
          return [
            `Host kohakuriver-vps-${vps.task_id}`,
            `  HostName kohakuriver-vps-${vps.task_id}`,
            "  User root",
            `  ProxyCommand ${proxyCommandFor(settings, vps.task_id)}`,
            ...(key === null ? [] : [`  IdentityFile ${key}`, "  IdentitiesOnly yes"]),
            "  StrictHostKeyChecking no",
            "  UserKnownHostsFile /dev/null",
            "  LogLevel ERROR",
            "",
          ].join("\n");
        });
      const text = `# Written by 'kohakuriver ssh config' for the host at ${settings.host}:${settings.apiPort}\n\n${stanzas.join("\n")}`;

      if (options.output === undefined) {
        runtime.output.raw(text);
        return;
      }
      mkdirSync(dirname(options.output), { recursive: true });
      writeFileSync(options.output, text, { mode: 0o600 });
      chmodSync(options.output, 0o600);
      runtime.output.line(
        `Wrote ${stanzas.length} VPS entr${stanzas.length === 1 ? "y" : "ies"} to ${options.output}; ` +
          `add 'Include ${options.output}' to ~/.ssh/config, then run: ssh kohakuriver-vps-<id>`,
      );
    });
}
