/**
 * Backpressure for WebSocket senders. `ws` has no drain event, so the bytes handed to `send` and not yet
 * written to the socket are counted through its callbacks. Above the high mark the producer is paused;
 * once the count falls below the low mark it is resumed. Every hop of a relay does this, so a slow reader
 * at one end slows the writer at the other end instead of growing a buffer on the way.
 */

import WebSocket from "ws";

export const DEFAULT_HIGH_WATER_BYTES = 1024 * 1024;

export interface Pausable {
  pause(): void;
  resume(): void;
}

export class WebSocketSender {
  private pending = 0;
  private readonly paused = new Set<Pausable>();
  private readonly lowWater: number;

  constructor(
    private readonly socket: WebSocket,
    private readonly highWater = DEFAULT_HIGH_WATER_BYTES,
  ) {
    this.lowWater = Math.floor(highWater / 4);
  }

  /** Bytes accepted by `send` and not yet written out. */
  get pendingBytes(): number {
    return this.pending;
  }

  /**
   * Sends one message. When the pending bytes pass the high mark, `producer` (the source of this data) is
   * paused until they fall below the low mark. Returns false when the socket is not open (nothing sent).
   */
  send(data: Buffer | string, binary: boolean, producer?: Pausable): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.pending += size;
    this.socket.send(data, { binary }, () => {
      this.pending -= size;
      if (this.pending <= this.lowWater && this.paused.size > 0) this.resumeAll();
    });
    if (producer !== undefined && this.pending > this.highWater && !this.paused.has(producer)) {
      this.paused.add(producer);
      producer.pause();
    }
    return true;
  }

  /** Resumes every paused producer, for instance when the socket closes and nothing more will drain. */
  resumeAll(): void {
    const producers = [...this.paused];
    this.paused.clear();
    for (const producer of producers) producer.resume();
  }
}

/**
 * Tells whether a reply to a client's frame (a pong, or an error about an invalid frame) may be queued: the
 * socket is open and its unsent bytes are at most `maxBuffered`. A client that sends frames and never reads
 * would otherwise grow the server's memory with replies. Replies beyond the limit are dropped.
 */
export function canReply(socket: WebSocket, maxBuffered = DEFAULT_HIGH_WATER_BYTES): boolean {
  return socket.readyState === WebSocket.OPEN && socket.bufferedAmount <= maxBuffered;
}

/** Close codes that may be sent in a close frame; 1005 and 1006 only describe a close that had none. */
export function sendableCloseCode(code: number): number {
  if (code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006)) return code;
  if (code >= 3000 && code <= 4999) return code;
  return 1000;
}

/** Trims a close reason to the 123 bytes a close frame allows. */
export function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

/** Closes a socket if it is still open or opening, with a valid code and reason. */
export function closeSocket(socket: WebSocket, code: number, reason = ""): void {
  if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
  if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
    return;
  }
  socket.close(sendableCloseCode(code), closeReason(reason));
}
