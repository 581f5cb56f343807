/**
 * The SSH proxy on HOST_SSH_PROXY_PORT. A client sends one line, `REQUEST_TUNNEL {task_id}[ {token}]\n`,
 * within 10 s and in at most 1 KiB. The proxy checks the VPS and the token, connects to the SSH port
 * published on the VPS's node, sends `SUCCESS\n` and then relays raw bytes both ways. On any problem it
 * sends `ERROR {reason}\n` and closes. Relaying uses stream piping, so a slow side pauses the other
 * instead of filling memory.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";

import { KohakuRiverError } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";

import { authorizeTaskUse, type AccessControlOptions } from "../auth/access-control.js";
import type { ResourceLedger } from "../scheduler/ledger.js";
import type { Store } from "../store/types.js";

export const MAX_REQUEST_LINE_BYTES = 1024;
export const REQUEST_LINE_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * Decides whether a token may open a tunnel to a VPS. Returns null when allowed, else the reason sent in
 * the ERROR line.
 */
export type TunnelAuthorizer = (taskId: string, token: string | null) => Promise<string | null> | string | null;

export interface SshProxyOptions {
  store: Store;
  ledger: ResourceLedger;
  logger: Logger;
  authorize: TunnelAuthorizer;
}

export class SshProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: SshProxyOptions) {
    this.server = createServer((socket) => this.handle(socket));
  }

  /** Starts listening; an error (EADDRINUSE, say) names HOST_SSH_PROXY_PORT and keeps the system error code. */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const named = new Error(
          `SSH proxy cannot listen on ${host}:${port} (HOST_SSH_PROXY_PORT): ${error.message}`,
        ) as NodeJS.ErrnoException;
        if (error.code !== undefined) named.code = error.code;
        reject(named);
      };
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        resolve();
      });
    });
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(client: Socket): void {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => client.destroy());

    let buffered = Buffer.alloc(0);
    const timer = setTimeout(
      () => this.reject(client, `no request line within ${REQUEST_LINE_TIMEOUT_MS / 1000} s`),
      REQUEST_LINE_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) {
        if (buffered.length > MAX_REQUEST_LINE_BYTES) {
          clearTimeout(timer);
          client.off("data", onData);
          this.reject(client, `request line longer than ${MAX_REQUEST_LINE_BYTES} bytes`);
        }
        return;
      }
      clearTimeout(timer);
      client.off("data", onData);
      client.pause();
      if (newline > MAX_REQUEST_LINE_BYTES) {
        this.reject(client, `request line longer than ${MAX_REQUEST_LINE_BYTES} bytes`);
        return;
      }
      const line = buffered.subarray(0, newline).toString("latin1").replace(/\r$/, "");
      const rest = buffered.subarray(newline + 1);
      void this.openTunnel(client, line, rest).catch((error: unknown) => {
        this.options.logger.error({ err: error }, "SSH proxy request failed");
        this.reject(client, "internal error in the SSH proxy; see the host log");
      });
    };
    client.on("data", onData);
    client.on("close", () => clearTimeout(timer));
  }

  private async openTunnel(client: Socket, line: string, rest: Buffer): Promise<void> {
    const { logger } = this.options;
    const match = /^REQUEST_TUNNEL (\S+)(?: (\S+))?$/.exec(line);
    if (match === null) {
      this.reject(client, "malformed request line; expected 'REQUEST_TUNNEL <task_id> [<token>]'");
      return;
    }
    const taskId = match[1] as string;
    const token = match[2] ?? null;
    if (!/^\d{1,20}$/.test(taskId)) {
      // Control characters are not echoed back to the client's terminal.
      const printable = taskId.slice(0, 40).replace(/[^\x20-\x7e]/g, "?");
      this.reject(client, `invalid task id '${printable}': expected a decimal VPS id`);
      return;
    }

    const rejection = await this.options.authorize(taskId, token);
    if (rejection !== null) {
      logger.warn({ taskId, remote: client.remoteAddress }, `SSH proxy request rejected: ${rejection}`);
      this.reject(client, rejection);
      return;
    }
    const target = await this.resolveTarget(taskId);
    if (typeof target === "string") {
      this.reject(client, target);
      return;
    }

    const upstream = connect({ host: target.host, port: target.port });
    upstream.setTimeout(CONNECT_TIMEOUT_MS);
    const connected = await new Promise<boolean>((resolve) => {
      upstream.once("connect", () => resolve(true));
      upstream.once("error", () => resolve(false));
      upstream.once("timeout", () => resolve(false));
    });
    if (!connected || client.destroyed) {
      upstream.destroy();
      this.reject(client, `cannot connect to the SSH port ${target.port} of VPS ${taskId} on node ${target.node}`);
      return;
    }
    upstream.setTimeout(0);
    this.sockets.add(upstream);
    upstream.on("close", () => this.sockets.delete(upstream));

    client.write("SUCCESS\n");
    if (rest.length > 0) upstream.write(rest);
    client.pipe(upstream);
    upstream.pipe(client);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", closeBoth);
    upstream.on("error", closeBoth);
    client.on("close", () => upstream.end());
    upstream.on("close", () => client.end());
    client.resume();
    logger.info({ taskId, node: target.node, remote: client.remoteAddress }, "SSH tunnel opened");
  }

  /** Returns where the VPS's sshd is published, or the reason the tunnel cannot be opened. */
  private async resolveTarget(taskId: string): Promise<{ host: string; port: number; node: string } | string> {
    const task = await this.options.store.getTask(taskId);
    if (task === undefined || task.task_type !== "vps") return `VPS ${taskId} not found`;
    if (task.ssh_key_mode === "disabled") {
      return `SSH is disabled for VPS ${taskId}: it was created without an SSH option (--gen-ssh-key, --public-key-file or --no-ssh-key)`;
    }
    if (task.status !== "running") {
      return task.status === "paused"
        ? `VPS ${taskId} is paused; resume it first (kohakuriver vps resume ${taskId})`
        : `VPS ${taskId} is ${task.status}, not running`;
    }
    if (task.assigned_node === null || task.ssh_port === null || task.ssh_port <= 0) {
      return `VPS ${taskId} has no SSH port yet; try again in a moment`;
    }
    // A node not yet heard from since a host restart is tried anyway; only a node known to be down is refused.
    const node = this.options.ledger.getNode(task.assigned_node);
    const record = await this.options.store.getNode(task.assigned_node);
    if (node === undefined || record?.status === "offline") {
      return `node ${task.assigned_node} of VPS ${taskId} is offline`;
    }
    return {
      host: new URL(node.capacity.url).hostname.replace(/^\[|\]$/g, ""),
      port: task.ssh_port,
      node: task.assigned_node,
    };
  }

  private reject(client: Socket, reason: string): void {
    if (client.destroyed) return;
    client.end(`ERROR ${reason.replace(/[\r\n]+/g, " ")}\n`);
    // A client that keeps sending is disconnected shortly after the error line.
    setTimeout(() => client.destroy(), 1000).unref();
  }
}

/**
 * Builds the tunnel authorization. Without AUTH_ENABLED any token or none is accepted. With it, the token
 * must be the ADMIN_SECRET, or an API token of an account that may use the VPS: its owner, an assignee, or
 * an operator or admin (the same rule as the VPS's HTTP routes).
 */
export function accountTokenAuthorizer(options: AccessControlOptions): TunnelAuthorizer {
  return async (taskId, token) => {
    if (!options.config.AUTH_ENABLED) return null;
    if (token === null) return "a token is required: REQUEST_TUNNEL <task_id> <token> (an API token)";
    if (options.config.ADMIN_SECRET !== "" && sameSecret(options.config.ADMIN_SECRET, token)) return null;
    try {
      await authorizeTaskUse(options, token, taskId);
      return null;
    } catch (error) {
      if (error instanceof KohakuRiverError) return error.message;
      throw error;
    }
  };
}

/** Compares two secrets in constant time (over their SHA-256 digests, so lengths may differ). */
function sameSecret(expected: string, given: string): boolean {
  const digest = (text: string): Buffer => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(expected), digest(given));
}
