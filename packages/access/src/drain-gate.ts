/**
 * Backpressure from many writable sockets to one source. A port-forward WebSocket feeds many sockets;
 * when a write into one of them returns false, the WebSocket is paused until every such socket has
 * drained. A slow socket therefore holds up the others on the same WebSocket (head-of-line blocking),
 * but nothing is buffered without bound.
 */

import type { Pausable } from "./flow.js";

/** The part of a net.Socket or a similar writable that the gate needs. */
export interface DrainableTarget {
  once(event: "drain", listener: () => void): unknown;
}

export class DrainGate {
  private readonly waiting = new Set<DrainableTarget>();

  constructor(private readonly source: Pausable) {}

  /** True while the source is paused for at least one target. */
  get blocked(): boolean {
    return this.waiting.size > 0;
  }

  /**
   * Records the result of a write into `target`: false pauses the source until the target emits "drain"
   * (or is released with `release`).
   */
  afterWrite(target: DrainableTarget, accepted: boolean): void {
    if (accepted || this.waiting.has(target)) return;
    this.waiting.add(target);
    if (this.waiting.size === 1) this.source.pause();
    target.once("drain", () => this.release(target));
  }

  /** Stops waiting for a target, for instance because it closed before it drained. */
  release(target: DrainableTarget): void {
    if (!this.waiting.delete(target)) return;
    if (this.waiting.size === 0) this.source.resume();
  }
}
