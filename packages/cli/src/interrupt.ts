/**
 * Ctrl-C handling for commands that run until stopped (daemons, --wait, --follow, watch): the first
 * SIGINT or SIGTERM aborts the signal passed to the work so it can finish cleanly. A second one gets
 * Node's default behaviour and ends the process at once.
 */

import type { CliIo } from "./context.js";

export async function runUntilInterrupted<T>(io: CliIo, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();

  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  io.signal?.addEventListener("abort", abort, { once: true });
  if (io.signal?.aborted === true) abort();

  try {
    return await work(controller.signal);
  } finally {
    process.removeListener("SIGINT", abort);
    process.removeListener("SIGTERM", abort);
    io.signal?.removeEventListener("abort", abort);
  }
}

/** Resolves when the signal aborts. */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
