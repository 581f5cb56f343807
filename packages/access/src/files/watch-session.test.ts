/** The change-watch session without Docker: a fake container whose Engine requests never finish. */

import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";
import type Docker from "dockerode";
import WebSocket, { WebSocketServer } from "ws";

import { runWatchSession } from "./watch.js";

const logger = createLogger({ name: "watch-test", level: "silent" });

describe("watch session invalid frames", () => {
  it("bounds replies to a client that never reads", async () => {
    const container = { infoArchive: () => new Promise(() => undefined) } as unknown as Docker.Container;
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await once(server, "listening");
    const frameCount = 100_000;
    let received = 0;
    let serverSocket: WebSocket | null = null;
    const allReceived = new Promise<void>((resolve) => {
      server.on("connection", (socket) => {
        serverSocket = socket;
        socket.on("message", () => {
          received += 1;
          if (received === frameCount) resolve();
        });
        void runWatchSession({ container, socket, logger, label: "task 1", paths: "/root" });
      });
    });
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      perMessageDeflate: false,
    });
    await once(client, "open");

    // The client stops reading and sends one-byte text frames that are not JSON.
    (client as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let index = 0; index < frameCount; index += 1) client.send("x");
    await allReceived;

    const buffered = (serverSocket as unknown as WebSocket).bufferedAmount;
    // At most the reply limit (1 MiB) and one more reply.
    assert.ok(buffered <= 1024 * 1024 + 4096, `${buffered} bytes of replies are buffered`);
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});
