/**
 * `kohakuriver forward ID PORT`: makes a port of a running task or VPS container reachable on a local
 * port. All connections travel over one WebSocket through the host to the task's runner, which connects
 * to the container's address on its Docker network, so the container publishes no ports.
 */

import {
  ForwardClient,
  ForwardSessionError,
  WebSocketRefusedError,
  openWebSocket,
  waitForForwardReady,
} from "@kohakuriver/access";
import { HostClient, type ForwardProtocol } from "@kohakuriver/api";
import type { Command } from "commander";
import type WebSocket from "ws";

import { hostSocketUrl, parsePort, type CliRuntime } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { runUntilInterrupted, whenAborted } from "../interrupt.js";
import { checkTaskId } from "../options.js";

interface ForwardOptions {
  localPort?: string;
  localHost: string;
  proto: string;
  token?: string;
}

export function registerForward(program: Command, runtime: CliRuntime): void {
  program
    .command("forward")
    .summary("forward a local port to a port of a running task or VPS container, until Ctrl-C")
    .argument("<id>", "task or VPS id")
    .argument("<port>", "port in the container")
    .option("-l, --local-port <port>", "local port to listen on (default: the container port)")
    .option("-H, --local-host <address>", "local address to listen on", "127.0.0.1")
    .option("-p, --proto <protocol>", "protocol to forward: tcp or udp", "tcp")
    .option(
      "--token <token>",
      "API token for a host with AUTH_ENABLED (default: KOHAKURIVER_TOKEN or the one from auth login)",
    )
    .action(async (id: string, port: string, options: ForwardOptions, command: Command) => {
      const taskId = checkTaskId(id);
      const remotePort = parsePort(port, "PORT");
      const localPort = options.localPort === undefined ? remotePort : parsePort(options.localPort, "--local-port");
      const proto = parseProtocol(options.proto);
      runtime.portInUseHint = "choose another local port with --local-port";

      const target = hostSocketUrl(command, runtime, `/ws/forward/${taskId}/${remotePort}?proto=${proto}`);
      const token = options.token ?? target.token;
      const client = new HostClient({ baseUrl: target.hostUrl, token });
      const task = await client.getTask(taskId);
      if (task.status !== "running") {
        throw new CliError(
          `task ${taskId} is ${task.status}, not running; port forwarding needs a running task ` +
            `(see 'kohakuriver task status ${taskId}')`,
        );
      }

      const socket = await openSession(target.url, token);
      const forward = new ForwardClient({
        socket,
        remotePort,
        proto,
        localHost: options.localHost,
        localPort,
        onConnectionError: (clientId, message) => runtime.output.warn(`connection ${clientId}: ${message}`),
      });
      let address;
      try {
        address = await forward.listen();
      } catch (error) {
        await forward.close();
        throw error;
      }
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
      runtime.output.line(
        `Forwarding ${shown}:${address.port} -> task ${taskId} port ${remotePort} (${proto}); Ctrl-C to stop`,
      );

      await runUntilInterrupted(runtime.io, async (signal) => {
        const ended = await Promise.race([forward.closed, whenAborted(signal).then(() => null)]);
        if (ended === null) {
          await forward.close();
          return;
        }
        throw new CliError(
          `the forward session ended (code ${ended.code}${ended.reason === "" ? "" : `: ${ended.reason}`})`,
        );
      });
    });
}

function parseProtocol(text: string): ForwardProtocol {
  const proto = text.toLowerCase();
  if (proto !== "tcp" && proto !== "udp")
    throw new UsageError(`invalid protocol '${text}' for --proto: use tcp or udp`);
  return proto;
}

/** Opens the forward WebSocket and waits for the session's "CONNECTED"; refusals become CliErrors with the reason. */
async function openSession(url: string, token: string | undefined): Promise<WebSocket> {
  let created: WebSocket | undefined;
  try {
    // openWebSocket delays messages until the listener below is attached, so "CONNECTED" is not missed.
    created = await openWebSocket(url, { token, zeroMask: true });
    await waitForForwardReady(created);
    return created;
  } catch (error) {
    created?.terminate();
    if (error instanceof WebSocketRefusedError) {
      throw new CliError(`the host rejected the forward (HTTP ${error.status}): ${error.detail}`);
    }
    if (error instanceof ForwardSessionError) throw new CliError(error.message);
    throw error;
  }
}
