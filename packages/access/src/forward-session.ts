/**
 * The runner's half of a port-forward session. One WebSocket carries the binary tunnel frames of many
 * forwarded connections. For each CONNECT the runner opens a TCP connection, or a connected UDP socket,
 * to the container's own address on its Docker network, so nothing needs to run inside the container.
 *
 * Backpressure both ways: container data goes out through a WebSocketSender that pauses the container
 * socket while the WebSocket is behind, and a write toward a container socket that returns false pauses
 * the WebSocket until that socket drains.
 */

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, isIPv6, type Socket } from "node:net";

import {
  TUNNEL_HEADER_BYTES,
  TUNNEL_READY_MESSAGE,
  TunnelFrameType,
  TunnelProto,
  decodeTunnelFrame,
  encodeTunnelFrame,
  writeTunnelHeader,
  type ForwardProtocol,
  type TunnelFrame,
} from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import WebSocket from "ws";

import { DrainGate } from "./drain-gate.js";
import { DEFAULT_HIGH_WATER_BYTES, WebSocketSender, canReply } from "./flow.js";

/** How long a CONNECT may take before the runner gives up and sends ERROR. */
export const FORWARD_CONNECT_TIMEOUT_MS = 10_000;
/** Connections open at once in one session; the runner rejects a CONNECT beyond it with ERROR. */
export const MAX_FORWARD_CONNECTIONS = 1024;
/** The largest read from a container socket, and so the largest DATA payload toward the client. */
export const FORWARD_READ_BYTES = 256 * 1024;
/** UDP datagrams handed to the kernel and not yet sent, per connection, before the WebSocket is paused. */
const MAX_PENDING_DATAGRAMS = 64;

export interface ForwardSessionOptions {
  socket: WebSocket;
  /** The container's IP address on its Docker network. */
  address: string;
  /** The port from the request path, used when a CONNECT frame carries port 0. */
  defaultPort: number;
  /** The protocol in the request, for logs; each CONNECT frame's own protocol decides. */
  proto: ForwardProtocol;
  logger: Logger;
  connectTimeoutMs?: number;
  maxConnections?: number;
  highWaterBytes?: number;
}

/** One forwarded connection, TCP or UDP, as the session drives it. */
interface ForwardedConnection {
  /** Writes a DATA payload toward the container; false when the WebSocket should wait for "drain". */
  write(payload: Buffer): boolean;
  /** The client ended its side (CLOSE). */
  end(): void;
  destroy(): void;
  once(event: "drain", listener: () => void): unknown;
}

/** Sends "CONNECTED" and serves the session until the WebSocket closes. */
export function runForwardSession(options: ForwardSessionOptions): void {
  new ForwardSession(options).start();
}

class ForwardSession {
  private readonly connections = new Map<number, ForwardedConnection>();
  private readonly sender: WebSocketSender;
  private readonly gate: DrainGate;
  private readonly connectTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly highWater: number;
  private invalidFrames = 0;
  private closed = false;

  constructor(private readonly options: ForwardSessionOptions) {
    this.highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    this.sender = new WebSocketSender(options.socket, this.highWater);
    this.gate = new DrainGate(options.socket);
    this.connectTimeoutMs = options.connectTimeoutMs ?? FORWARD_CONNECT_TIMEOUT_MS;
    this.maxConnections = options.maxConnections ?? MAX_FORWARD_CONNECTIONS;
  }

  start(): void {
    const { socket, logger } = this.options;
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.handleFrame(data);
      else logger.debug("ignored a text message in a forward session");
    });
    socket.on("close", () => this.close());
    socket.on("error", (error) => logger.debug({ error: error.message }, "forward WebSocket failed"));
    socket.send(TUNNEL_READY_MESSAGE);
    logger.info({ address: this.options.address, port: this.options.defaultPort }, "forward session started");
  }

  private handleFrame(data: Buffer): void {
    const decoded = decodeTunnelFrame(data);
    if (!decoded.ok) {
      // Rate-limited: a broken client could send thousands.
      this.invalidFrames += 1;
      if (this.invalidFrames <= 10) this.options.logger.warn({ error: decoded.error }, "invalid forward frame");
      if (!this.canReply()) return;
      this.sendControl(TunnelFrameType.ERROR, TunnelProto.TCP, 0, 0, `invalid frame: ${decoded.error}`);
      return;
    }
    const frame = decoded.frame;
    switch (frame.type) {
      case TunnelFrameType.CONNECT:
        this.open(frame);
        return;
      case TunnelFrameType.DATA: {
        const connection = this.connections.get(frame.clientId);
        // DATA for a connection that has just closed is expected in a race with CLOSE and is dropped.
        if (connection === undefined) return;
        this.gate.afterWrite(connection, connection.write(frame.payload as Buffer));
        return;
      }
      case TunnelFrameType.CLOSE:
        this.connections.get(frame.clientId)?.end();
        return;
      case TunnelFrameType.PING:
        if (!this.canReply()) return;
        this.sendControl(TunnelFrameType.PONG, TunnelProto.TCP, frame.clientId, frame.port);
        return;
      default:
        // CONNECTED, ERROR and PONG only travel toward the client.
        return;
    }
  }

  private open(frame: TunnelFrame): void {
    const port = frame.port === 0 ? this.options.defaultPort : frame.port;
    const fail = (text: string): void =>
      this.sendControl(TunnelFrameType.ERROR, frame.proto, frame.clientId, port, text);
    if (this.connections.has(frame.clientId)) {
      fail(`client id ${frame.clientId} is already in use in this session; use a new id for each connection`);
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      fail(
        `too many connections in this session (the maximum is ${this.maxConnections}); close some or open another session`,
      );
      return;
    }
    const connection =
      frame.proto === TunnelProto.UDP ? this.openUdp(frame.clientId, port) : this.openTcp(frame.clientId, port);
    this.connections.set(frame.clientId, connection);
  }

  private openTcp(clientId: number, port: number): ForwardedConnection {
    const { address, logger } = this.options;
    // The kernel reads straight into the frame that goes out, after room for the header, so bulk data is
    // not copied in JavaScript. A short read is copied into a frame of its own size instead, and the large
    // buffer is kept for the next read.
    let readBuffer: Buffer | null = null;
    const socket: Socket = connect({
      host: address,
      port,
      allowHalfOpen: true,
      noDelay: true,
      onread: {
        buffer: () => {
          readBuffer ??= Buffer.allocUnsafe(TUNNEL_HEADER_BYTES + FORWARD_READ_BYTES);
          return readBuffer.subarray(TUNNEL_HEADER_BYTES);
        },
        callback: (size: number) => {
          const filled = readBuffer as Buffer;
          let frame: Buffer;
          if (size >= FORWARD_READ_BYTES / 4) {
            frame = filled.subarray(0, TUNNEL_HEADER_BYTES + size);
            readBuffer = null;
          } else {
            frame = Buffer.allocUnsafe(TUNNEL_HEADER_BYTES + size);
            filled.copy(frame, TUNNEL_HEADER_BYTES, TUNNEL_HEADER_BYTES, TUNNEL_HEADER_BYTES + size);
          }
          writeTunnelHeader(frame, { type: TunnelFrameType.DATA, proto: TunnelProto.TCP, clientId, port });
          this.sender.send(frame, true, socket);
          return true;
        },
      },
    });
    let connected = false;
    // Set once CLOSE or ERROR went to the client for this id, so that only one of them is sent.
    let finished = false;
    const finish = (type: TunnelFrameType, text?: string): void => {
      if (finished) return;
      finished = true;
      this.sendControl(type, TunnelProto.TCP, clientId, port, text);
    };
    const timer = setTimeout(
      () =>
        socket.destroy(new Error(`timed out after ${this.connectTimeoutMs / 1000} s connecting to ${address}:${port}`)),
      this.connectTimeoutMs,
    );

    socket.once("connect", () => {
      clearTimeout(timer);
      connected = true;
      this.sendControl(TunnelFrameType.CONNECTED, TunnelProto.TCP, clientId, port);
    });
    socket.on("end", () => finish(TunnelFrameType.CLOSE));
    socket.on("error", (error) => {
      logger.debug({ clientId, port, error: error.message }, "forwarded connection failed");
      finish(TunnelFrameType.ERROR, `${connected ? "Connection lost" : "Connection failed"}: ${error.message}`);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      finish(TunnelFrameType.CLOSE);
      this.forget(clientId, socket);
    });
    return socket;
  }

  private openUdp(clientId: number, port: number): ForwardedConnection {
    const { address, logger } = this.options;
    const socket: UdpSocket = createSocket(isIPv6(address) ? "udp6" : "udp4");
    // Datagrams from the client before the socket is connected wait here.
    let early: Buffer[] | null = [];
    let pendingSends = 0;
    let waitingForDrain: (() => void) | null = null;
    let finished = false;
    let droppedDatagrams = 0;

    const finish = (type: TunnelFrameType, text?: string): void => {
      if (finished) return;
      finished = true;
      this.sendControl(type, TunnelProto.UDP, clientId, port, text);
    };
    const afterSend = (error: Error | null): void => {
      pendingSends -= 1;
      if (error !== null) socket.emit("error", error);
      if (pendingSends <= MAX_PENDING_DATAGRAMS / 4 && waitingForDrain !== null) {
        const listener = waitingForDrain;
        waitingForDrain = null;
        listener();
      }
    };
    let closed = false;
    const send = (payload: Buffer): boolean => {
      // DATA that arrived in the same read as the client's CLOSE is dropped: sending on a closed socket throws.
      if (closed) return true;
      if (early !== null) {
        early.push(Buffer.from(payload));
      } else {
        pendingSends += 1;
        socket.send(payload, afterSend);
      }
      return pendingSends + (early?.length ?? 0) < MAX_PENDING_DATAGRAMS;
    };

    const closeSocket = (): void => {
      if (closed) return;
      closed = true;
      socket.close();
    };

    socket.connect(port, address, () => {
      const queued = early ?? [];
      early = null;
      this.sendControl(TunnelFrameType.CONNECTED, TunnelProto.UDP, clientId, port);
      for (const payload of queued) send(payload);
    });
    socket.on("message", (datagram: Buffer) => {
      // UDP has no flow control: while the WebSocket is behind, datagrams are dropped as a full network would.
      if (this.sender.pendingBytes > this.highWater) {
        droppedDatagrams += 1;
        return;
      }
      this.sendData(TunnelProto.UDP, clientId, port, datagram);
    });
    socket.on("error", (error) => {
      logger.debug({ clientId, port, error: error.message }, "forwarded UDP socket failed");
      finish(TunnelFrameType.ERROR, `${early === null ? "Connection lost" : "Connection failed"}: ${error.message}`);
      closeSocket();
    });
    socket.once("close", () => {
      if (droppedDatagrams > 0)
        logger.debug({ clientId, droppedDatagrams }, "dropped UDP datagrams while the client was behind");
      finish(TunnelFrameType.CLOSE);
      this.forget(clientId, connection);
    });

    const connection: ForwardedConnection = {
      write: send,
      end: closeSocket,
      destroy: closeSocket,
      once: (_event: "drain", listener: () => void) => {
        waitingForDrain = listener;
      },
    };
    return connection;
  }

  /** Sends one UDP datagram from the container as a DATA frame. */
  private sendData(proto: TunnelProto, clientId: number, port: number, chunk: Buffer): void {
    const frame = Buffer.allocUnsafe(TUNNEL_HEADER_BYTES + chunk.length);
    writeTunnelHeader(frame, { type: TunnelFrameType.DATA, proto, clientId, port });
    chunk.copy(frame, TUNNEL_HEADER_BYTES);
    this.sender.send(frame, true);
  }

  /** Tells whether a PONG or an invalid-frame ERROR may be queued; bulk DATA may fill up to the high mark. */
  private canReply(): boolean {
    return canReply(this.options.socket, 2 * this.highWater);
  }

  private sendControl(type: TunnelFrameType, proto: TunnelProto, clientId: number, port: number, text?: string): void {
    if (this.closed || this.options.socket.readyState !== WebSocket.OPEN) return;
    this.sender.send(Buffer.from(encodeTunnelFrame({ type, proto, clientId, port }, text)), true);
  }

  private forget(clientId: number, connection: ForwardedConnection): void {
    if (this.connections.get(clientId) === connection) this.connections.delete(clientId);
    this.gate.release(connection);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    const open = this.connections.size;
    for (const connection of this.connections.values()) connection.destroy();
    this.connections.clear();
    this.sender.resumeAll();
    this.options.logger.info({ openConnections: open }, "forward session ended");
  }
}
