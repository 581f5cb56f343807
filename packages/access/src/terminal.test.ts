/**
 * Terminal sessions without Docker: a fake container replaces the Engine, and the client is a real
 * WebSocket on loopback.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Duplex, PassThrough } from "node:stream";
import { describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";
import type Docker from "dockerode";
import WebSocket, { WebSocketServer } from "ws";

import { bufferedAfterFlood } from "./flood.fixture.js";
import { runTerminalSession } from "./terminal.js";

const logger = createLogger({ name: "terminal-test", level: "silent" });

/** The Engine's response to a HEAD request on the archive of /bin/bash: a regular file. */
const shellStat = {
  resume: () => undefined,
  headers: {
    "x-docker-container-path-stat": Buffer.from(
      JSON.stringify({ name: "bash", size: 1234, mode: 0o755, mtime: "2026-01-01T00:00:00Z", linkTarget: "" }),
    ).toString("base64"),
  },
};

/** Returns a fake container whose exec starts only when `release` is called, and the exec's TTY stream. */
function slowContainer(): {
  container: Docker.Container;
  stream: PassThrough;
  started: Promise<void>;
  release: () => void;
} {
  const stream = new PassThrough();
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let markStarted = (): void => undefined;
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const exec = {
    start: async () => {
      markStarted();
      await gate;
      return stream;
    },
    inspect: async () => ({ Pid: 0, Running: false }),
    resize: async () => undefined,
  };
  const container = {
    infoArchive: async () => shellStat,
    exec: async () => exec,
  } as unknown as Docker.Container;
  return { container, stream, started, release: () => release() };
}

describe("terminal session start", () => {
  it("ends the shell when the client leaves during start", async () => {
    const fake = slowContainer();
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    const session = new Promise<void>((resolve, reject) => {
      server.on("connection", (socket) => {
        runTerminalSession({ container: fake.container, socket, logger, label: "task 1", resizeWaitMs: 0 }).then(
          resolve,
          reject,
        );
      });
    });
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await once(client, "open");
    await fake.started;

    // The client leaves while the Engine is still starting the shell.
    client.terminate();
    await new Promise((resolve) => setTimeout(resolve, 100));
    fake.release();
    await session;

    assert.equal(fake.stream.destroyed, true);
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("terminal session invalid frames", () => {
  it("bounds replies to a client that never reads", async () => {
    const fake = slowContainer();
    // The client stops reading and sends one-byte binary frames, each of which the session rejects.
    const frame = Buffer.from([0]);
    const buffered = await bufferedAfterFlood({
      startSession: (socket) => {
        void runTerminalSession({ container: fake.container, socket, logger, label: "task 1", resizeWaitMs: 0 }).catch(
          () => undefined,
        );
      },
      frame: () => frame,
      frameCount: 100_000,
      prepare: () => fake.started,
    });
    fake.release();

    // At most the reply limit (1 MiB) and one more reply.
    assert.ok(buffered <= 1024 * 1024 + 4096, `${buffered} bytes of replies are buffered`);
  });
});

describe("terminal session input", () => {
  it("stops reading while the shell is not reading", async () => {
    // A TTY whose reader never takes input, like a shell busy with a foreground program.
    const stream = new Duplex({ write: () => undefined, read: () => undefined });
    const exec = {
      start: async () => stream,
      inspect: async () => ({ Pid: 0, Running: false }),
      resize: async () => undefined,
    };
    const container = {
      infoArchive: async () => shellStat,
      exec: async () => exec,
    } as unknown as Docker.Container;
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await once(server, "listening");
    server.on("connection", (socket) => {
      void runTerminalSession({ container, socket, logger, label: "task 1", resizeWaitMs: 0 });
    });
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      perMessageDeflate: false,
    });
    await once(client, "open");
    // The empty output frame marks the shell as ready.
    await once(client, "message");

    const input = JSON.stringify({ type: "input", data: "x".repeat(64 * 1024) });
    for (let index = 0; index < 400; index += 1) client.send(input);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // 25 MiB were sent; the session must not queue them for the shell.
    assert.ok(stream.writableLength <= 2 * 1024 * 1024, `${stream.writableLength} bytes are queued for the shell`);
    client.terminate();
    // The paused session does not read the client's FIN, so the server side is ended here.
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("terminal session early input", () => {
  it("stops reading input while the shell starts", async () => {
    const fake = slowContainer();
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await once(server, "listening");
    let received = 0;
    server.on("connection", (socket) => {
      socket.on("message", () => {
        received += 1;
      });
      void runTerminalSession({ container: fake.container, socket, logger, label: "task 1", resizeWaitMs: 0 });
    });
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      perMessageDeflate: false,
    });
    await once(client, "open");
    await fake.started;

    const input = JSON.stringify({ type: "input", data: "x".repeat(64 * 1024) });
    for (let index = 0; index < 400; index += 1) client.send(input);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // 25 MiB were sent before the shell started; about 1 MiB of them may wait in the session.
    assert.ok(received <= 40, `${received} input frames of 64 KiB wait for the shell`);
    // Once the shell runs and reads, the rest of the input arrives.
    fake.stream.resume();
    fake.release();
    const deadline = Date.now() + 10_000;
    while (received < 400 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(received, 400);
    client.terminate();
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});
