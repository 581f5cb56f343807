/**
 * A lean HTTP/1.1 load generator for the throughput benchmark: keep-alive TCP connections that each send
 * one request, read the whole response and send the next. It spends far less CPU per request than fetch,
 * so on a small machine the host, not the client, sets the rate.
 */

import { connect, type Socket } from "node:net";

export interface LoadResult {
  completed: number;
  failed: number;
  seconds: number;
  firstError: string | null;
}

export async function postMany(
  port: number,
  path: string,
  body: string,
  count: number,
  connections: number,
): Promise<LoadResult> {
  const request = Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let firstError: string | null = null;
  const started = performance.now();

  await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = await open(port);
      const reader = new ResponseReader(socket);
      while (sent < count) {
        sent += 1;
        socket.write(request);
        const response = await reader.next();
        if (response.status >= 200 && response.status < 300) completed += 1;
        else {
          failed += 1;
          firstError ??= `HTTP ${response.status}: ${response.body.slice(0, 200)}`;
        }
      }
      socket.end();
    }),
  );
  return { completed, failed, seconds: (performance.now() - started) / 1000, firstError };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

/** Reads responses with a Content-Length body (what Fastify sends for JSON) from one socket. */
class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;

  constructor(socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
  }

  async next(): Promise<{ status: number; body: string }> {
    for (;;) {
      const headerEnd = this.buffer.indexOf("\r\n\r\n");
      if (headerEnd !== -1) {
        const head = this.buffer.subarray(0, headerEnd).toString("latin1");
        const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
        const total = headerEnd + 4 + length;
        if (this.buffer.length >= total) {
          const status = Number(head.slice(9, 12));
          const body = this.buffer.subarray(headerEnd + 4, total).toString("utf8");
          this.buffer = this.buffer.subarray(total);
          return { status, body };
        }
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = null;
    }
  }
}
