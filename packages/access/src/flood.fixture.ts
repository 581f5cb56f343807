/**
 * A client that floods a WebSocket session with frames while it never reads, for the tests that check a
 * session's replies (pongs, errors about invalid frames) stay bounded.
 */

import { once } from "node:events";
import type { AddressInfo } from "node:net";

import WebSocket, { WebSocketServer } from "ws";

export interface FloodOptions {
  /** Starts the session under test on the server's side of the connection. */
  startSession: (socket: WebSocket) => void;
  /** Returns the frame to send at `index`. */
  frame: (index: number) => Buffer | string;
  frameCount: number;
  /**
   * Called as soon as the client exists, so it can listen for the session's first message; the flood
   * starts once the returned promise settles.
   */
  prepare?: (client: WebSocket) => Promise<unknown>;
}

/** Sends every frame from a client that has stopped reading; returns the bytes the server then has unsent. */
export async function bufferedAfterFlood(options: FloodOptions): Promise<number> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await once(server, "listening");
  let received = 0;
  let serverSocket: WebSocket | null = null;
  const allReceived = new Promise<void>((resolve) => {
    server.on("connection", (socket) => {
      serverSocket = socket;
      socket.on("message", () => {
        received += 1;
        if (received === options.frameCount) resolve();
      });
      options.startSession(socket);
    });
  });

  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    perMessageDeflate: false,
  });
  const prepared = options.prepare?.(client);
  await once(client, "open");
  await prepared;
  (client as unknown as { _socket: { pause(): void } })._socket.pause();
  for (let index = 0; index < options.frameCount; index += 1) client.send(options.frame(index));
  await allReceived;

  const buffered = (serverSocket as unknown as WebSocket).bufferedAmount;
  client.terminate();
  for (const socket of server.clients) socket.terminate();
  await new Promise((resolve) => server.close(resolve));
  return buffered;
}
