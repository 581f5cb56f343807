/**
 * Joins two WebSockets: every message goes across unchanged (text stays text, binary stays binary), with
 * backpressure in both directions, and a close on one side closes the other with the same code and reason.
 * The host uses it between a client and a runner.
 */

import type WebSocket from "ws";

import { DEFAULT_HIGH_WATER_BYTES, WebSocketSender, closeSocket } from "./flow.js";

export interface RelayOptions {
  highWaterBytes?: number;
  /** Called once, when both sides are closed or closing. */
  onClose?: (code: number, reason: string) => void;
}

export function relayWebSockets(a: WebSocket, b: WebSocket, options: RelayOptions = {}): void {
  const highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
  const toA = new WebSocketSender(a, highWater);
  const toB = new WebSocketSender(b, highWater);
  a.on("message", (data: Buffer, isBinary: boolean) => toB.send(data, isBinary, a));
  b.on("message", (data: Buffer, isBinary: boolean) => toA.send(data, isBinary, b));

  let closed = false;
  const closeOther = (other: WebSocket, sender: WebSocketSender) => (code: number, reason: Buffer) => {
    sender.resumeAll();
    closeSocket(other, code, reason.toString());
    if (!closed) {
      closed = true;
      options.onClose?.(code, reason.toString());
    }
  };
  a.on("close", closeOther(b, toA));
  b.on("close", closeOther(a, toB));
  a.on("error", () => closeSocket(b, 1011, "the other side of the relay failed"));
  b.on("error", () => closeSocket(a, 1011, "the other side of the relay failed"));
}
