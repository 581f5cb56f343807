/**
 * A byte-level relay for WebSockets. Once the host has accepted a client's WebSocket and opened one to
 * the runner, both connections carry WebSocket frames with no extension negotiated. Frames from a client
 * are masked with a key they carry themselves and frames from a server are not masked, so the bytes of one
 * connection are valid frames on the other. The host then pipes the two TCP connections into each other
 * and parses nothing, which costs a fraction of the CPU of receiving and re-sending every message.
 */

import { randomBytes, createHash } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Socket } from "node:net";

import type WebSocket from "ws";

import { readRefusalDetail, WebSocketRefusedError } from "./connect.js";

/** The GUID that RFC 6455 appends to the key to compute Sec-WebSocket-Accept. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface UpgradedConnection {
  socket: Socket;
  /** Bytes the server sent after its 101 response in the same read: the start of its first frames. */
  head: Buffer;
}

/**
 * Performs the WebSocket handshake with `url` (ws://) and returns the raw connection, without a WebSocket
 * object on it. A refusal becomes a WebSocketRefusedError with the server's message.
 */
export function openUpgradedConnection(
  url: string,
  options: { token?: string; timeoutMs?: number } = {},
): Promise<UpgradedConnection> {
  const key = randomBytes(16).toString("base64");
  const expectedAccept = createHash("sha1").update(`${key}${WEBSOCKET_GUID}`).digest("base64");
  const headers: Record<string, string> = {
    connection: "Upgrade",
    upgrade: "websocket",
    "sec-websocket-version": "13",
    "sec-websocket-key": key,
  };
  if (options.token !== undefined && options.token !== "") headers.authorization = `Bearer ${options.token}`;
  const timeoutMs = options.timeoutMs ?? 10_000;

  return new Promise((resolve, reject) => {
    const request = httpRequest(url.replace(/^ws/, "http"), { headers, timeout: timeoutMs });
    request.on("upgrade", (response: IncomingMessage, socket: Socket, head: Buffer) => {
      const accept = response.headers["sec-websocket-accept"];
      const extensions = response.headers["sec-websocket-extensions"];
      if (response.statusCode !== 101 || accept !== expectedAccept || extensions !== undefined) {
        socket.destroy();
        reject(
          new Error(
            `invalid WebSocket handshake response from ${url}: expected 101 with a matching Sec-WebSocket-Accept and no extensions`,
          ),
        );
        return;
      }
      socket.setTimeout(0);
      socket.setNoDelay(true);
      resolve({ socket, head });
    });
    request.on("response", (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      readRefusalDetail(response)
        .then(
          (detail) => reject(new WebSocketRefusedError(status, detail)),
          () => reject(new WebSocketRefusedError(status, `HTTP ${status}`)),
        )
        .finally(() => request.destroy());
    });
    request.on("timeout", () =>
      request.destroy(new Error(`no WebSocket handshake from ${url} within ${timeoutMs} ms`)),
    );
    request.on("error", reject);
    request.end();
  });
}

/**
 * Takes the TCP connection of an accepted WebSocket away from `ws`, so that its bytes can be piped
 * elsewhere. Returns null when that is not possible, and the caller relays messages instead.
 *
 * This depends on how `ws` 8 attaches to a connection: its listeners for `data` and `end` feed its frame
 * parser, and they are removed here. Its `close` listener stays, so the WebSocket object still reports its
 * close (and the server stops tracking it) when the connection ends. The socket must have been paused
 * since the upgrade, so that no byte has reached the parser.
 */
export function takeConnection(socket: WebSocket): Socket | null {
  const parts = attachment(socket);
  if (parts === null) return null;
  parts.connection.removeListener("data", parts.onData);
  parts.connection.removeListener("end", parts.onEnd);
  return parts.connection;
}

/** Tells whether takeConnection would succeed, without changing anything. */
export function canTakeConnection(socket: WebSocket): boolean {
  return attachment(socket) !== null;
}

type Listener = (...args: unknown[]) => void;

function attachment(socket: WebSocket): { connection: Socket; onData: Listener; onEnd: Listener } | null {
  const internals = socket as unknown as { _socket?: unknown; _receiver?: { _bufferedBytes?: number } };
  const connection = internals._socket;
  if (!(connection instanceof Socket)) return null;
  if (internals._receiver?._bufferedBytes !== 0) return null;
  const onData = connection.listeners("data").find((listener) => listener.name === "socketOnData");
  const onEnd = connection.listeners("end").find((listener) => listener.name === "socketOnEnd");
  if (onData === undefined || onEnd === undefined || connection.listenerCount("data") !== 1) return null;
  return { connection, onData: onData as Listener, onEnd: onEnd as Listener };
}

/**
 * Pipes two connections into each other with stream backpressure. When one side closes, the other is
 * ended after what is queued for it has been written; when one fails, both are destroyed.
 */
export function spliceConnections(a: Socket, b: Socket, onClose?: () => void): void {
  a.pipe(b);
  b.pipe(a);
  let closed = 0;
  const sideClosed = (other: Socket) => (): void => {
    other.end();
    closed += 1;
    if (closed === 2) onClose?.();
  };
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", destroyBoth);
  b.on("error", destroyBoth);
  a.on("close", sideClosed(b));
  b.on("close", sideClosed(a));
}
