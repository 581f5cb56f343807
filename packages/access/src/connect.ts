/**
 * Opens a WebSocket to the host or to a runner and waits until it is open. A refusal before the upgrade
 * (401, 403, 404, 409…) becomes a WebSocketRefusedError carrying the status and the server's own message,
 * so the caller can show why instead of "unexpected server response". Attach the listeners right after
 * the `await`: messages are held until then.
 */

import type { ClientRequest, IncomingMessage } from "node:http";
import WebSocket from "ws";

export class WebSocketRefusedError extends Error {
  override name = "WebSocketRefusedError";
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export interface OpenWebSocketOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /** Gives up when the connection is not open within this time (default 10 000 ms). */
  timeoutMs?: number;
  /** The largest message accepted, in bytes (default 16 MiB). */
  maxPayload?: number;
  /**
   * Masks outgoing frames with the key 0, which leaves their bytes unchanged, so ws neither copies nor
   * transforms them. The random key protects proxies from frames made by scripts in a browser (RFC 6455,
   * section 10.3). A command-line client moving bulk data does not need that protection.
   */
  zeroMask?: boolean;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function openWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<WebSocket> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined && options.token !== "") headers.authorization = `Bearer ${options.token}`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const socket = new WebSocket(url, {
    headers,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD_BYTES,
    handshakeTimeout: timeoutMs,
    ...(options.zeroMask === true ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {}),
  });

  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      socket.removeAllListeners("open");
      socket.terminate();
      reject(error);
    };
    socket.once("open", () => {
      socket.removeListener("error", fail);
      // A server may send its first message right after the upgrade, possibly before the caller's
      // continuation has attached a listener. The socket is held until the next turn of the event loop,
      // after the listeners the caller attaches right after the `await`.
      socket.pause();
      setImmediate(() => socket.resume());
      resolve(socket);
    });
    socket.once("error", fail);
    socket.once("unexpected-response", (request: ClientRequest, response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      // With this listener, ws leaves the refused request open; it is destroyed once the body is read.
      readRefusalDetail(response)
        .then(
          (detail) => fail(new WebSocketRefusedError(status, detail)),
          () => fail(new WebSocketRefusedError(status, `HTTP ${status}`)),
        )
        .finally(() => request.destroy());
    });
  });
}

/** Reads an error body (at most 64 KiB) and returns its `detail`, its text, or the status line. */
export async function readRefusalDetail(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 65_536) break;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    const body = JSON.parse(text) as { detail?: unknown; message?: unknown };
    if (typeof body.detail === "string") return body.detail;
    if (typeof body.message === "string") return body.message;
  } catch {
    // Not JSON: use the text itself.
  }
  return text.trim() !== ""
    ? text.trim().slice(0, 500)
    : `HTTP ${response.statusCode ?? 0} ${response.statusMessage ?? ""}`.trim();
}
