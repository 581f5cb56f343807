/**
 * `kohakuriver vps …`: create, list, inspect and control Docker VPS sessions, connect to them through the
 * SSH proxy, and manage their snapshots.
 */

import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import {
  formatBytes,
  parseMemorySize,
  type SshKeyMode,
  type VpsCreate,
  type VpsCreateResponse,
  type VpsResponse,
} from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { CliError, UsageError } from "../../errors.js";
import { checkTaskId, collect, parseInteger, parseNonNegativeNumber } from "../../options.js";
import { runSshClient } from "../ssh/index.js";
import { defaultKeyFile } from "../ssh/tunnel.js";
import { registerSnapshotCommands } from "./snapshot.js";
import { waitUntilRunning } from "./wait.js";

interface CreateOptions {
  target?: string;
  cores: string;
  memory?: string;
  container?: string;
  image?: string;
  privileged?: boolean;
  mount?: string[];
  name?: string;
  ssh?: boolean;
  /** False when --no-ssh-key was given (commander's negated option). */
  sshKey?: boolean;
  genSshKey?: boolean;
  publicKeyFile?: string;
  publicKeyString?: string;
  keyOutFile?: string;
  backend: string;
  wait: boolean;
  waitTimeout: string;
  json?: boolean;
}

export function registerVpsCommands(program: Command, runtime: CliRuntime): void {
  const vps = program.command("vps").summary("create, list and control VPS sessions and their snapshots");

  vps
    .command("create")
    .summary("create a Docker VPS; waits until its SSH server answers unless --no-wait")
    .option("-t, --target <host[:numa][::gpus]>", "node, NUMA node and GPU indices (default: automatic placement)")
    .option("-c, --cores <n>", "CPU cores (0 = no limit)", "1")
    .option("-m, --memory <size>", "memory limit with K, M or G, such as 8G (default: no limit)")
    .option("--container <env>", "environment to use (default: the host's DEFAULT_CONTAINER_NAME)")
    .option("--image <image>", "Docker image to use instead of an environment (must exist on the node)")
    .option("--privileged", "run the container privileged")
    .option("--mount <host:container[:ro]>", "extra bind mount (repeatable)", collect)
    .option("--name <name>", "a label for the VPS")
    .option("--ssh", "enable SSH with a generated key pair (same as --gen-ssh-key)")
    .option("--no-ssh-key", "enable SSH as root WITHOUT a password or key (insecure; trusted networks only)")
    .option("--gen-ssh-key", "generate an ed25519 key pair; the private key is saved to ~/.ssh/id-kohakuriver-{id}")
    .option("--public-key-file <file>", "enable SSH with this public key (.pub file)")
    .option("--public-key-string <key>", "enable SSH with this public key line")
    .option("--key-out-file <file>", "where to save a generated private key (default: ~/.ssh/id-kohakuriver-{id})")
    .option("-b, --backend <backend>", "docker (qemu is not available yet)", "docker")
    .option("--no-wait", "return at once instead of waiting until the VPS runs")
    .option("--wait-timeout <seconds>", "seconds to wait for the VPS to run", "900")
    .option("--json", "print the API's answer as JSON (the private key is replaced by the file it was saved to)")
    .action(async (options: CreateOptions, command: Command) => {
      const { output } = runtime;
      const body = buildCreateBody(options);
      // Checked before the VPS exists, so that a bad value does not leave a VPS behind.
      const timeoutSeconds = parseInteger(options.waitTimeout, "--wait-timeout", 1, "seconds");
      if (body.ssh_key_mode === "generate" && options.keyOutFile !== undefined) checkKeyFile(options.keyOutFile);
      const client = createClient(command, runtime);
      const created = await client.request<VpsCreateResponse>("POST", "/api/vps/create", body);

      let keyFile: string | null = null;
      if (created.ssh_private_key !== undefined) {
        keyFile = options.keyOutFile ?? defaultKeyFile(runtime.io.env, created.task_id);
        try {
          saveKeyPair(keyFile, created.ssh_private_key, created.ssh_public_key ?? "");
        } catch (error) {
          throw new CliError(
            `VPS ${created.task_id} was created, but its private key could not be saved to ${keyFile} ` +
              `(${(error as NodeJS.ErrnoException).code ?? (error as Error).message}) and is lost; ` +
              `stop it with 'kohakuriver vps stop ${created.task_id}' and create it again with a writable --key-out-file`,
          );
        }
      }
      if (options.json === true) {
        const { ssh_private_key: _privateKey, ...rest } = created;
        output.json({ ...rest, ssh_private_key_file: keyFile });
        if (!options.wait) return;
      } else {
        output.line(created.message);
        if (keyFile !== null) output.line(`Private key saved to ${keyFile} (mode 0600).`);
      }
      if (!options.wait) return;

      const ready = await waitUntilRunning(runtime, client, created.task_id, timeoutSeconds, options.json !== true);
      if (options.json === true) return;
      output.line(
        `VPS ${ready.task_id} is running on ${ready.assigned_node ?? "?"}` +
          (ready.ssh_port === null ? "." : ` (SSH published on port ${ready.ssh_port}).`),
      );
      if (ready.ssh_key_mode === "disabled") {
        output.hint(
          "SSH is disabled for this VPS because no SSH option was given; create one with --gen-ssh-key or --public-key-file to log in",
        );
      } else {
        output.hint(
          `connect with: kohakuriver ssh connect ${ready.task_id}   (or write ssh stanzas with: kohakuriver ssh config)`,
        );
      }
    });

  vps
    .command("list")
    .summary("list active VPS sessions (all with --all)")
    .option("-a, --all", "include stopped, failed and killed ones")
    .option("--json", "print the API's VPS objects as JSON")
    .action(async (options: { all?: boolean; json?: boolean }, command: Command) => {
      const client = createClient(command, runtime);
      const sessions = await client.request<VpsResponse[]>(
        "GET",
        options.all === true ? "/api/vps" : "/api/vps/status",
      );
      if (options.json === true) {
        runtime.output.json(sessions);
        return;
      }
      if (sessions.length === 0) {
        runtime.output.line(
          options.all === true ? "No VPS sessions." : "No active VPS sessions (--all shows every one).",
        );
        return;
      }
      runtime.output.table(
        ["ID", "NAME", "STATUS", "NODE", "CORES", "SSH", "SSH PORT", "CREATED"],
        sessions.map((item) => [
          item.task_id,
          item.name ?? "",
          item.status,
          item.assigned_node ?? "",
          String(item.required_cores),
          item.ssh_key_mode,
          item.ssh_port === null ? "" : String(item.ssh_port),
          item.submitted_at.replace("T", " ").slice(0, 19),
        ]),
      );
    });

  vps
    .command("status")
    .summary("show one VPS")
    .argument("<id>", "VPS task id")
    .option("--json", "print the API's VPS object as JSON")
    .action(async (taskId: string, options: { json?: boolean }, command: Command) => {
      const client = createClient(command, runtime);
      const item = await client.request<VpsResponse>("GET", `/api/vps/status/${checkTaskId(taskId)}`);
      if (options.json === true) {
        runtime.output.json(item);
        return;
      }
      runtime.output.details([
        ["VPS", item.task_id],
        ["Name", item.name ?? "-"],
        ["Status", item.status],
        ["Node", item.assigned_node ?? "-"],
        ["Image", item.docker_image_name ?? "-"],
        ["Cores", String(item.required_cores)],
        ["Memory", item.required_memory_bytes === null ? "no limit" : formatBytes(item.required_memory_bytes)],
        ["GPUs", item.required_gpus.length === 0 ? "-" : item.required_gpus.join(",")],
        ["SSH", item.ssh_key_mode],
        ["SSH port", item.ssh_port === null ? "-" : String(item.ssh_port)],
        ["Created", item.submitted_at],
        ["Started", item.started_at ?? "-"],
        ["Ended", item.completed_at ?? "-"],
        ["Message", item.error_message ?? "-"],
      ]);
    });

  vps
    .command("stop")
    .summary("stop a VPS; its node takes a snapshot first when AUTO_SNAPSHOT_ON_STOP is set")
    .argument("<id>", "VPS task id")
    .action(async (taskId: string, _options: unknown, command: Command) => {
      const client = createClient(command, runtime);
      const response = await client.request<{ message: string }>("POST", `/api/vps/stop/${checkTaskId(taskId)}`);
      runtime.output.line(response.message);
    });

  vps
    .command("restart")
    .summary("restart a VPS on its node from its newest snapshot, keeping its SSH key mode and key")
    .argument("<id>", "VPS task id")
    .option("--no-wait", "return at once instead of waiting until the VPS runs")
    .option("--wait-timeout <seconds>", "seconds to wait for the VPS to run", "900")
    .action(async (taskId: string, options: { wait: boolean; waitTimeout: string }, command: Command) => {
      const id = checkTaskId(taskId);
      const client = createClient(command, runtime);
      const response = await client.request<{ message: string }>("POST", `/api/vps/restart/${id}`);
      runtime.output.line(response.message);
      if (!options.wait) return;
      const timeoutSeconds = parseInteger(options.waitTimeout, "--wait-timeout", 1, "seconds");
      const ready = await waitUntilRunning(runtime, client, id, timeoutSeconds, true);
      runtime.output.line(`VPS ${ready.task_id} is running on ${ready.assigned_node ?? "?"}.`);
    });

  for (const action of ["pause", "resume"] as const) {
    vps
      .command(action)
      .summary(action === "pause" ? "freeze a running VPS; it keeps its resources" : "resume a paused VPS")
      .argument("<id>", "VPS task id")
      .action(async (taskId: string, _options: unknown, command: Command) => {
        const id = checkTaskId(taskId);
        const client = createClient(command, runtime);
        // Fails with "VPS … not found" for a command task, which 'task pause|resume' controls.
        await client.request<VpsResponse>("GET", `/api/vps/status/${id}`);
        const response = await client.control(id, action);
        runtime.output.line(response.message.replace(/^Task /, "VPS "));
      });
  }

  vps
    .command("connect")
    .summary("SSH into a VPS through the host's SSH proxy (same as 'kohakuriver ssh connect')")
    .argument("<id>", "VPS task id")
    .option("-i, --key <file>", "private key file (default: ~/.ssh/id-kohakuriver-{id} when it exists)")
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
        options: { key?: string; proxyPort?: string; token?: string },
        command: Command,
      ) => {
        runtime.exitCode = await runSshClient(runtime, command, checkTaskId(taskId), remoteCommand, options);
      },
    );

  registerSnapshotCommands(vps, runtime);
}

function buildCreateBody(options: CreateOptions): VpsCreate {
  if (options.backend !== "docker") {
    throw new UsageError(`invalid --backend '${options.backend}': only docker is available`);
  }
  if (options.container !== undefined && options.image !== undefined) {
    throw new UsageError("--container and --image cannot be combined: choose an environment or an image");
  }
  const keyChoices = [
    options.ssh === true || options.genSshKey === true ? "--gen-ssh-key/--ssh" : null,
    options.sshKey === false ? "--no-ssh-key" : null,
    options.publicKeyFile !== undefined ? "--public-key-file" : null,
    options.publicKeyString !== undefined ? "--public-key-string" : null,
  ].filter((choice): choice is string => choice !== null);
  if (keyChoices.length > 1) {
    throw new UsageError(`choose one SSH option, not ${keyChoices.join(" and ")}`);
  }

  let mode: SshKeyMode = "disabled";
  let publicKey: string | null = null;
  if (options.ssh === true || options.genSshKey === true) mode = "generate";
  else if (options.sshKey === false) mode = "none";
  else if (options.publicKeyString !== undefined) {
    mode = "upload";
    publicKey = options.publicKeyString;
  } else if (options.publicKeyFile !== undefined) {
    mode = "upload";
    try {
      publicKey = readFileSync(options.publicKeyFile, "utf8").trim();
    } catch (error) {
      throw new UsageError(
        `cannot read --public-key-file ${options.publicKeyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }

  const body: VpsCreate = {
    required_cores: parseNonNegativeNumber(options.cores, "--cores", "cores"),
    ssh_key_mode: mode,
    ssh_public_key: publicKey,
    vps_backend: "docker",
  };
  if (options.target !== undefined) body.target_hostname = options.target;
  if (options.memory !== undefined) {
    const bytes = parseMemorySize(options.memory);
    if (bytes === null) {
      throw new UsageError(
        `invalid memory size '${options.memory}' for --memory: use a number with K, M or G, such as 8G`,
      );
    }
    body.required_memory_bytes = bytes;
  }
  if (options.container !== undefined) body.container_name = options.container;
  if (options.image !== undefined) body.registry_image = options.image;
  if (options.privileged === true) body.privileged = true;
  if (options.mount !== undefined) body.additional_mounts = options.mount;
  if (options.name !== undefined) body.name = options.name;
  return body;
}

/** Rejects a --key-out-file that exists (it is never overwritten) or whose directory cannot be created. */
function checkKeyFile(file: string): void {
  if (existsSync(file) || existsSync(`${file}.pub`)) {
    throw new UsageError(`--key-out-file ${file} (or its .pub) exists; remove it or choose another file`);
  }
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    accessSync(dirname(file), constants.W_OK);
  } catch (error) {
    throw new UsageError(
      `cannot write --key-out-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

function saveKeyPair(file: string, privateKey: string, publicKey: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // "wx" never replaces an existing file.
  writeFileSync(file, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  if (publicKey !== "") writeFileSync(`${file}.pub`, `${publicKey}\n`, { mode: 0o644 });
}
