/** Shows a progress line with the elapsed time while a long host request (commit, save, pull) runs. */

import type { Output } from "../../output.js";

export async function withElapsedProgress<T>(output: Output, text: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const progress = output.progress(`${text}…`);
  // Plain-line output (not a terminal) gets a line every 10 s; a spinner is redrawn every second.
  const every = output.interactive ? 1000 : 10_000;
  const timer = setInterval(() => {
    progress.update(`${text}… ${Math.round((Date.now() - started) / 1000)} s`);
  }, every);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    progress.stop();
  }
}
