/**
 * The client's half of a port-forward session, used by `kohakuriver forward`: a local TCP listener or UDP
 * socket whose connections travel as tunnel frames over one WebSocket to the host. Each accepted TCP
 * connection, and each distinct UDP peer, gets the next client id (1, 2, 3 …).
 *
 * Backpressure both ways. Local data goes out through a WebSocketSender, which pauses the local socket
 * while the WebSocket is behind. A write into a local socket that returns false pauses the WebSocket
 * until that socket drains, so a local reader that stops reading stops the data at the container.
 */

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, type AddressInfo, type Server, type Socket } from "node:net";

import {
  TUNNEL_ERROR_PREFIX,
  TUNNEL_HEADER_BYTES,
  TUNNEL_READY_MESSAGE,
  TunnelFrameType,
  TunnelProto,
  decodeTunnelFrame,
  encodeTunnelFrame,
  writeTunnelHeader,
  type ForwardProtocol,
} from "@kohakuriver/api";
import WebSocket from "ws";

import { DrainGate } from "./drain-gate.js";
import { WebSocketSender, closeSocket } from "./flow.js";

/** How long the client waits for the session's "CONNECTED". */
export const FORWARD_READY_TIMEOUT_MS = 10_000;

/** The session could not start; `message` is the server's text without the "Error: " prefix. */
export class ForwardSessionError extends Error {
  override name = "ForwardSessionError";
}

/**
 * Waits for the session's first text message: resolves on "CONNECTED" and rejects with a
 * ForwardSessionError on "Error: …", on a close, or after `timeoutMs`.
 */
export function waitForForwardReady(socket: WebSocket, timeoutMs = FORWARD_READY_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.off("message", onMessage);
      socket.off("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      const text = isBinary ? "" : data.toString("utf8");
      if (text === TUNNEL_READY_MESSAGE) done();
      else if (text.startsWith(TUNNEL_ERROR_PREFIX))
        done(new ForwardSessionError(text.slice(TUNNEL_ERROR_PREFIX.length)));
      else
        done(
          new ForwardSessionError(`unexpected first message from the server: ${JSON.stringify(text.slice(0, 200))}`),
        );
    };
    const onClose = (code: number, reason: Buffer): void =>
      done(
        new ForwardSessionError(
          `the server closed the session before it was ready (code ${code}${reason.length > 0 ? `: ${reason.toString()}` : ""})`,
        ),
      );
    const timer = setTimeout(
      () => done(new ForwardSessionError(`the server did not confirm the session within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    socket.on("message", onMessage);
    socket.once("close", onClose);
  });
}

export interface ForwardClientOptions {
  /** An open WebSocket past its "CONNECTED" message. */
  socket: WebSocket;
  remotePort: number;
  proto: ForwardProtocol;
  localHost: string;
  /** Local port to listen on; 0 picks a free one. */
  localPort: number;
  /** Called with each per-connection error (ERROR frames and invalid frames). */
  onConnectionError?: (clientId: number, message: string) => void;
}

/** Ends of local TCP connections and UDP peers, as the frame handler drives them. */
interface LocalEnd {
  /** Writes inbound DATA; false when the WebSocket should wait for "drain". */
  write(payload: Buffer): boolean;
  /** The remote side closed (CLOSE). */
  end(): void;
  /** The remote side failed (ERROR). */
  fail(): void;
  once(event: "drain", listener: () => void): unknown;
}

export class ForwardClient {
  private readonly ends = new Map<number, LocalEnd>();
  private readonly sender: WebSocketSender;
  private readonly gate: DrainGate;
  private nextClientId = 1;
  private server: Server | null = null;
  private udp: UdpSocket | null = null;
  private readonly udpPeers = new Map<string, number>();
  /** Resolves when the WebSocket closes, with its close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(private readonly options: ForwardClientOptions) {
    this.sender = new WebSocketSender(options.socket);
    this.gate = new DrainGate(options.socket);
    this.closed = new Promise((resolve) => {
      options.socket.once("close", (code: number, reason: Buffer) => {
        this.shutDown();
        resolve({ code, reason: reason.toString() });
      });
    });
    options.socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.handleFrame(data);
    });
    options.socket.on("error", () => undefined);
  }

  /** Opens the local listener (TCP) or socket (UDP); resolves with its address. */
  async listen(): Promise<AddressInfo> {
    return this.options.proto === "udp" ? this.bindUdp() : this.listenTcp();
  }

  /** Closes the local side and the WebSocket, and resolves once the WebSocket is closed. */
  async close(): Promise<void> {
    this.shutDown();
    closeSocket(this.options.socket, 1000, "the client stopped forwarding");
    await this.closed;
  }

  private get protoNumber(): TunnelProto {
    return this.options.proto === "udp" ? TunnelProto.UDP : TunnelProto.TCP;
  }

  private listenTcp(): Promise<AddressInfo> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (local) => this.acceptTcp(local));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.localPort, this.options.localHost, () => {
        server.off("error", reject);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  private acceptTcp(local: Socket): void {
    if (this.options.socket.readyState !== WebSocket.OPEN) {
      local.destroy();
      return;
    }
    const clientId = this.takeClientId();
    let closeSent = false;
    const sendClose = (): void => {
      if (closeSent) return;
      closeSent = true;
      this.sendControl(TunnelFrameType.CLOSE, clientId);
    };
    this.sendControl(TunnelFrameType.CONNECT, clientId);
    local.on("data", (chunk: Buffer) => this.sendData(clientId, chunk, local));
    local.on("end", sendClose);
    local.on("error", () => undefined);
    local.once("close", () => {
      sendClose();
      this.forget(clientId, end);
    });
    const end: LocalEnd = {
      write: (payload) => local.write(payload),
      end: () => local.end(),
      fail: () => local.destroy(),
      once: (event, listener) => local.once(event, listener),
    };
    this.ends.set(clientId, end);
  }

  private bindUdp(): Promise<AddressInfo> {
    const udp = createSocket(isIPv6(this.options.localHost) ? "udp6" : "udp4");
    this.udp = udp;
    udp.on("message", (datagram: Buffer, peer: RemoteInfo) => this.acceptDatagram(udp, datagram, peer));
    return new Promise((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(this.options.localPort, this.options.localHost, () => {
        udp.off("error", reject);
        udp.on("error", () => undefined);
        resolve(udp.address());
      });
    });
  }

  // NOTE: a UDP peer keeps its client id until the runner closes it or the session ends. Idle peers are
  // not expired, so a session with many short-lived peers reaches the runner's connection limit.
  private acceptDatagram(udp: UdpSocket, datagram: Buffer, peer: RemoteInfo): void {
    const key = `${peer.address}|${peer.port}`;
    let clientId = this.udpPeers.get(key);
    if (clientId === undefined) {
      const id = this.takeClientId();
      clientId = id;
      this.udpPeers.set(key, id);
      this.sendControl(TunnelFrameType.CONNECT, id);
      const forgetPeer = (): void => {
        if (this.udpPeers.get(key) === id) this.udpPeers.delete(key);
        this.forget(id, end);
      };
      const end: LocalEnd = {
        // UDP has no flow control toward the local peer: a datagram the kernel cannot take is lost.
        write: (payload) => {
          udp.send(payload, peer.port, peer.address);
          return true;
        },
        end: forgetPeer,
        fail: forgetPeer,
        once: () => undefined,
      };
      this.ends.set(id, end);
    }
    this.sendData(clientId, datagram);
  }

  private handleFrame(data: Buffer): void {
    const decoded = decodeTunnelFrame(data);
    if (!decoded.ok) {
      this.options.onConnectionError?.(0, `invalid frame from the server: ${decoded.error}`);
      return;
    }
    const { type, clientId, payload } = decoded.frame;
    const end = this.ends.get(clientId);
    switch (type) {
      case TunnelFrameType.DATA:
        if (end !== undefined) this.gate.afterWrite(end, end.write(payload as Buffer));
        return;
      case TunnelFrameType.CLOSE:
        end?.end();
        return;
      case TunnelFrameType.ERROR:
        this.options.onConnectionError?.(clientId, Buffer.from(payload).toString("utf8"));
        end?.fail();
        return;
      default:
        // CONNECTED needs no action: data sent before it waits on the runner.
        return;
    }
  }

  private takeClientId(): number {
    const clientId = this.nextClientId;
    this.nextClientId = this.nextClientId >= 0xffff_ffff ? 1 : this.nextClientId + 1;
    return clientId;
  }

  private sendData(clientId: number, chunk: Buffer, producer?: Socket): void {
    const frame = Buffer.allocUnsafe(TUNNEL_HEADER_BYTES + chunk.length);
    writeTunnelHeader(frame, {
      type: TunnelFrameType.DATA,
      proto: this.protoNumber,
      clientId,
      port: this.options.remotePort,
    });
    chunk.copy(frame, TUNNEL_HEADER_BYTES);
    this.sender.send(frame, true, producer);
  }

  private sendControl(type: TunnelFrameType, clientId: number): void {
    const frame = encodeTunnelFrame({ type, proto: this.protoNumber, clientId, port: this.options.remotePort });
    this.sender.send(Buffer.from(frame.buffer, frame.byteOffset, frame.length), true);
  }

  private forget(clientId: number, end: LocalEnd): void {
    if (this.ends.get(clientId) === end) this.ends.delete(clientId);
    this.gate.release(end);
  }

  private shutDown(): void {
    this.server?.close();
    this.server = null;
    for (const end of this.ends.values()) end.fail();
    this.ends.clear();
    this.udp?.close();
    this.udp = null;
    this.udpPeers.clear();
  }
}
