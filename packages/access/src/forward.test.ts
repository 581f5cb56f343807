/**
 * Port-forward sessions without Docker. The runner's session (runForwardSession) serves a WebSocket on
 * loopback and connects to TCP and UDP servers on 127.0.0.1 in place of a container. The client side is
 * ForwardClient, or raw frames where a test sends what a well-behaved client would not.
 */

import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";

import { TunnelFrameType, TunnelProto, decodeTunnelFrame, encodeTunnelFrame, type TunnelFrame } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";
import WebSocket, { WebSocketServer } from "ws";

import { bufferedAfterFlood } from "./flood.fixture.js";
import { ForwardClient, ForwardSessionError, waitForForwardReady } from "./forward-client.js";
import { runForwardSession, type ForwardSessionOptions } from "./forward-session.js";

const logger = createLogger({ name: "forward-test", level: "silent" });

interface SessionServer {
  url: string;
  close(): Promise<void>;
}

/** Starts a WebSocket server that runs one forward session per connection against 127.0.0.1. */
async function startSessionServer(
  defaultPort: number,
  extra: Partial<ForwardSessionOptions> = {},
): Promise<SessionServer> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await once(server, "listening");
  server.on("connection", (socket) =>
    runForwardSession({ socket, address: "127.0.0.1", defaultPort, proto: "tcp", logger, ...extra }),
  );
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function openClient(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  // Listening before the socket opens, because the first message can come with the upgrade response.
  const ready = waitForForwardReady(socket);
  await once(socket, "open");
  await ready;
  return socket;
}

/** Opens a session and a ForwardClient on a free local port; returns the client and that port. */
async function startClient(
  url: string,
  remotePort: number,
  proto: "tcp" | "udp" = "tcp",
  onConnectionError?: (clientId: number, message: string) => void,
): Promise<{ client: ForwardClient; port: number }> {
  const socket = await openClient(url);
  const client = new ForwardClient({
    socket,
    remotePort,
    proto,
    localHost: "127.0.0.1",
    localPort: 0,
    onConnectionError,
  });
  return { client, port: (await client.listen()).port };
}

async function listenTcp(handler: (socket: Socket) => void): Promise<Server> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

function portOf(server: Server | UdpSocket): number {
  return (server.address() as AddressInfo).port;
}

/** Returns a port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = await listenTcp(() => undefined);
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Collects decoded frames from a raw client socket. */
function frameLog(socket: WebSocket): { frames: TunnelFrame[]; next: (type: number) => Promise<TunnelFrame> } {
  const frames: TunnelFrame[] = [];
  const waiters: Array<() => void> = [];
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    const decoded = decodeTunnelFrame(data);
    if (decoded.ok) frames.push(decoded.frame);
    for (const waiter of waiters.splice(0)) waiter();
  });
  const next = async (type: number): Promise<TunnelFrame> => {
    for (;;) {
      const index = frames.findIndex((frame) => frame.type === type);
      if (index !== -1) return frames.splice(index, 1)[0] as TunnelFrame;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { frames, next };
}

function sendFrame(socket: WebSocket, type: number, clientId: number, port = 0, payload?: string): void {
  socket.send(encodeTunnelFrame({ type: type as TunnelFrameType, proto: TunnelProto.TCP, clientId, port }, payload));
}

async function request(port: number, text: string): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.end(text);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe("forward session over TCP", () => {
  let echo: Server;
  let sessions: SessionServer;
  let client: ForwardClient;
  let localPort: number;

  before(async () => {
    // Echoes what it reads, then ends its side when the client has ended its own.
    echo = await listenTcp((connection) => connection.pipe(connection));
    sessions = await startSessionServer(portOf(echo));
    ({ client, port: localPort } = await startClient(sessions.url, portOf(echo)));
  });

  after(async () => {
    await client.close();
    await sessions.close();
    echo.close();
  });

  it("echoes a request", async () => {
    assert.equal(await request(localPort, "hello through the forward"), "hello through the forward");
  });

  it("carries 50 parallel connections", async () => {
    const texts = Array.from({ length: 50 }, (_, index) => `connection ${index} `.repeat(200));
    const replies = await Promise.all(texts.map((text) => request(localPort, text)));
    assert.deepEqual(replies, texts);
  });

  it("carries 32 MiB byte for byte", async () => {
    const data = Buffer.alloc(32 * 1024 * 1024);
    for (let index = 0; index < data.length; index += 4) data.writeUInt32LE(index, index);
    const connection = connect({ host: "127.0.0.1", port: localPort });
    connection.end(data);
    const chunks: Buffer[] = [];
    for await (const chunk of connection) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data));
  });
});

describe("forward session errors", () => {
  let sessions: SessionServer;
  let unusedPort: number;
  const sockets: WebSocket[] = [];

  before(async () => {
    unusedPort = await closedPort();
    sessions = await startSessionServer(unusedPort, { connectTimeoutMs: 2000, maxConnections: 3 });
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.terminate();
  });

  after(async () => {
    await sessions.close();
  });

  async function rawClient(): Promise<{ socket: WebSocket; log: ReturnType<typeof frameLog> }> {
    const socket = await openClient(sessions.url);
    sockets.push(socket);
    return { socket, log: frameLog(socket) };
  }

  it("reports a closed port with ERROR", async () => {
    const { socket, log } = await rawClient();
    sendFrame(socket, TunnelFrameType.CONNECT, 1, unusedPort);
    const error = await log.next(TunnelFrameType.ERROR);
    assert.equal(error.clientId, 1);
    assert.match(Buffer.from(error.payload).toString(), /^Connection failed: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  });

  it("keeps the session after a failed connection", async () => {
    const echo = await listenTcp((connection) => connection.pipe(connection));
    try {
      const { socket, log } = await rawClient();
      sendFrame(socket, TunnelFrameType.CONNECT, 1, unusedPort);
      await log.next(TunnelFrameType.ERROR);
      sendFrame(socket, TunnelFrameType.CONNECT, 2, portOf(echo));
      assert.equal((await log.next(TunnelFrameType.CONNECTED)).clientId, 2);
      sendFrame(socket, TunnelFrameType.DATA, 2, portOf(echo), "still alive");
      const data = await log.next(TunnelFrameType.DATA);
      assert.equal(Buffer.from(data.payload).toString(), "still alive");
    } finally {
      echo.close();
    }
  });

  it("replies to PING with PONG", async () => {
    const { socket, log } = await rawClient();
    sendFrame(socket, TunnelFrameType.PING, 77);
    assert.equal((await log.next(TunnelFrameType.PONG)).clientId, 77);
  });

  it("rejects malformed frames and goes on", async () => {
    const { socket, log } = await rawClient();
    socket.send(Buffer.from([3, 0, 0]));
    assert.match(
      Buffer.from((await log.next(TunnelFrameType.ERROR)).payload).toString(),
      /shorter than the 8-byte header/,
    );
    socket.send(Buffer.from([9, 0, 0, 0, 0, 5, 0, 80]));
    assert.match(Buffer.from((await log.next(TunnelFrameType.ERROR)).payload).toString(), /unknown frame type 9/);
    sendFrame(socket, TunnelFrameType.PING, 5);
    assert.equal((await log.next(TunnelFrameType.PONG)).clientId, 5);
  });

  it("rejects a client id in use", async () => {
    const hold = await listenTcp(() => undefined);
    try {
      const { socket, log } = await rawClient();
      sendFrame(socket, TunnelFrameType.CONNECT, 4, portOf(hold));
      await log.next(TunnelFrameType.CONNECTED);
      sendFrame(socket, TunnelFrameType.CONNECT, 4, portOf(hold));
      const error = await log.next(TunnelFrameType.ERROR);
      assert.equal(error.clientId, 4);
      assert.match(Buffer.from(error.payload).toString(), /client id 4 is already in use/);
    } finally {
      hold.close();
    }
  });

  it("limits connections per session", async () => {
    const hold = await listenTcp(() => undefined);
    try {
      const { socket, log } = await rawClient();
      for (const clientId of [1, 2, 3]) sendFrame(socket, TunnelFrameType.CONNECT, clientId, portOf(hold));
      for (let count = 0; count < 3; count += 1) await log.next(TunnelFrameType.CONNECTED);
      sendFrame(socket, TunnelFrameType.CONNECT, 4, portOf(hold));
      const error = await log.next(TunnelFrameType.ERROR);
      assert.equal(error.clientId, 4);
      assert.match(Buffer.from(error.payload).toString(), /too many connections in this session \(the maximum is 3\)/);
    } finally {
      hold.close();
    }
  });

  it("closes container connections when the session ends", async () => {
    const accepted: Socket[] = [];
    const hold = await listenTcp((connection) => accepted.push(connection));
    try {
      const { socket, log } = await rawClient();
      sendFrame(socket, TunnelFrameType.CONNECT, 1, portOf(hold));
      await log.next(TunnelFrameType.CONNECTED);
      const ended = once(accepted[0] as Socket, "close");
      socket.close();
      await ended;
    } finally {
      hold.close();
    }
  });

  it("tells the client about a closed port", async () => {
    const errors: string[] = [];
    const { client, port } = await startClient(sessions.url, unusedPort, "tcp", (_clientId, message) =>
      errors.push(message),
    );
    const connection = connect({ host: "127.0.0.1", port });
    connection.on("error", () => undefined);
    await once(connection, "close");
    assert.match(errors[0] ?? "", /^Connection failed: connect ECONNREFUSED/);
    await client.close();
  });
});

describe("forward session backpressure", () => {
  it("stops a sender whose local reader does not read", async () => {
    let written = 0;
    let source: Socket | undefined;
    // Writes as long as the kernel and Node.js take the data, as a fast server would.
    const fast = await listenTcp((connection) => {
      source = connection;
      const chunk = Buffer.alloc(256 * 1024);
      const pump = (): void => {
        while (written < 1024 * 1024 * 1024) {
          written += chunk.length;
          if (!connection.write(chunk)) {
            connection.once("drain", pump);
            return;
          }
        }
      };
      connection.on("error", () => undefined);
      pump();
    });
    const sessions = await startSessionServer(portOf(fast));
    const { client, port } = await startClient(sessions.url, portOf(fast));
    // The local reader takes the first chunk and then stops reading.
    const reader = connect({ host: "127.0.0.1", port });
    await once(reader, "data");
    reader.pause();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const settled = written;
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Kernel socket buffers on three loopback connections plus a few MiB in WebSocket queues.
    assert.ok(settled < 64 * 1024 * 1024, `the server could write ${settled} bytes to a reader that stopped`);
    assert.equal(written, settled, "the server kept writing after the pipeline filled");
    reader.resume();
    let received = 0;
    reader.on("data", (chunk: Buffer) => (received += chunk.length));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(received > 0, "nothing arrived after the reader resumed");

    reader.destroy();
    source?.destroy();
    await client.close();
    await sessions.close();
    fast.close();
  });
});

describe("forward session backpressure toward the container", () => {
  it("stops a local writer when the container does not read", async () => {
    const accepted: Socket[] = [];
    // Accepts connections and never reads from them.
    const stalled = await listenTcp((connection) => {
      connection.pause();
      accepted.push(connection);
    });
    const sessions = await startSessionServer(portOf(stalled));
    const { client, port } = await startClient(sessions.url, portOf(stalled));

    // Writes as long as the local socket takes the data, up to 1 GiB.
    let written = 0;
    const writer = connect({ host: "127.0.0.1", port });
    writer.on("error", () => undefined);
    const chunk = Buffer.alloc(256 * 1024);
    const pump = (): void => {
      while (written < 1024 * 1024 * 1024) {
        written += chunk.length;
        if (!writer.write(chunk)) {
          writer.once("drain", pump);
          return;
        }
      }
    };
    writer.once("connect", pump);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const settled = written;
    await new Promise((resolve) => setTimeout(resolve, 1000));

    assert.ok(settled > 0, "nothing was written");
    assert.ok(
      settled < 64 * 1024 * 1024,
      `the writer could hand over ${settled} bytes to a container that does not read`,
    );
    assert.equal(written, settled, "the writer kept writing after the pipeline filled");

    writer.destroy();
    for (const connection of accepted) connection.destroy();
    await client.close();
    await sessions.close();
    stalled.close();
  });
});

describe("forward session over UDP", () => {
  let echo: UdpSocket;
  let sessions: SessionServer;
  let client: ForwardClient;
  let localPort: number;

  before(async () => {
    echo = createSocket("udp4");
    echo.on("message", (datagram, peer) => echo.send(datagram, peer.port, peer.address));
    echo.bind(0, "127.0.0.1");
    await once(echo, "listening");
    sessions = await startSessionServer(portOf(echo), { proto: "udp" });
    ({ client, port: localPort } = await startClient(sessions.url, portOf(echo), "udp"));
  });

  after(async () => {
    await client.close();
    await sessions.close();
    echo.close();
  });

  it("echoes datagrams from two peers", async () => {
    for (const name of ["first", "second"]) {
      const peer = createSocket("udp4");
      peer.bind(0, "127.0.0.1");
      await once(peer, "listening");
      const replies: string[] = [];
      peer.on("message", (datagram: Buffer) => replies.push(datagram.toString()));
      for (let index = 0; index < 5; index += 1) peer.send(`${name} ${index}`, localPort, "127.0.0.1");
      const deadline = Date.now() + 5000;
      while (replies.length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      peer.close();
      assert.deepEqual(
        replies.sort(),
        [0, 1, 2, 3, 4].map((index) => `${name} ${index}`),
      );
    }
  });

  it("keeps datagram boundaries", async () => {
    const peer = createSocket("udp4");
    peer.bind(0, "127.0.0.1");
    await once(peer, "listening");
    const sizes: number[] = [];
    peer.on("message", (datagram: Buffer) => sizes.push(datagram.length));
    for (const size of [1, 1000, 8000]) peer.send(Buffer.alloc(size, 7), localPort, "127.0.0.1");
    const deadline = Date.now() + 5000;
    while (sizes.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    peer.close();
    assert.deepEqual(
      sizes.sort((a, b) => a - b),
      [1, 1000, 8000],
    );
  });
});

describe("forward handshake", () => {
  it("rejects an error message", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    server.on("connection", (socket) => {
      socket.send("Error: task 5 is not running");
      socket.close(1008);
    });
    const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const ready = waitForForwardReady(socket);
    await assert.rejects(ready, (error: Error) => {
      assert.ok(error instanceof ForwardSessionError);
      assert.equal(error.message, "task 5 is not running");
      return true;
    });
    socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  it("times out without a message", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await once(socket, "open");
    await assert.rejects(waitForForwardReady(socket, 200), /did not confirm the session within 0.2 s/);
    socket.terminate();
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("forward session UDP close", () => {
  it("drops DATA sent with CLOSE", async () => {
    const echo = createSocket("udp4");
    echo.on("message", (datagram, peer) => echo.send(datagram, peer.port, peer.address));
    echo.bind(0, "127.0.0.1");
    await once(echo, "listening");
    const uncaught: Error[] = [];
    const onUncaught = (error: Error): void => {
      uncaught.push(error);
    };
    process.on("uncaughtException", onUncaught);
    const sessions = await startSessionServer(portOf(echo), { proto: "udp" });
    const socket = await openClient(sessions.url);
    try {
      const log = frameLog(socket);
      const udpFrame = (type: TunnelFrameType, payload?: string): Buffer =>
        Buffer.from(encodeTunnelFrame({ type, proto: TunnelProto.UDP, clientId: 7, port: portOf(echo) }, payload));
      socket.send(udpFrame(TunnelFrameType.CONNECT));
      await log.next(TunnelFrameType.CONNECTED);
      // CLOSE and DATA in one TCP write, so that the runner handles both before the UDP socket's close event.
      const tcp = (socket as unknown as { _socket: Socket })._socket;
      tcp.cork();
      socket.send(udpFrame(TunnelFrameType.CLOSE));
      socket.send(udpFrame(TunnelFrameType.DATA, "late datagram"));
      tcp.uncork();
      await log.next(TunnelFrameType.CLOSE);
      // The session still replies to PING after the late datagram.
      sendFrame(socket, TunnelFrameType.PING, 0);
      await log.next(TunnelFrameType.PONG);
      assert.deepEqual(uncaught, []);
    } finally {
      process.off("uncaughtException", onUncaught);
      socket.terminate();
      await sessions.close();
      echo.close();
    }
  });
});

describe("forward session flood", () => {
  it("bounds replies to a client that never reads", async () => {
    // The client stops reading and sends PING frames and frames too short to decode.
    const ping = Buffer.from(
      encodeTunnelFrame({ type: TunnelFrameType.PING, proto: TunnelProto.TCP, clientId: 0, port: 0 }),
    );
    const invalid = Buffer.from([1]);
    const buffered = await bufferedAfterFlood({
      startSession: (socket) =>
        runForwardSession({ socket, address: "127.0.0.1", defaultPort: 1, proto: "tcp", logger }),
      frame: (index) => (index % 2 === 0 ? ping : invalid),
      frameCount: 400_000,
      prepare: (client) => waitForForwardReady(client),
    });

    // At most the reply limit (2 MiB) and one more reply.
    assert.ok(buffered <= 2 * 1024 * 1024 + 4096, `${buffered} bytes of replies are buffered`);
  });
});
