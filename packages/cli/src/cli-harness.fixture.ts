/** Runs the real CLI in-process with captured output, for tests. */

import { runCli } from "./main.js";
import type { CliStream } from "./output.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCapturedOptions {
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Pretend stdout and stderr are terminals. */
  tty?: boolean;
}

export class CaptureStream implements CliStream {
  text = "";
  readonly isTTY: boolean;

  constructor(isTTY = false) {
    this.isTTY = isTTY;
  }

  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Runs `kohakuriver ARGV...` with a clean environment (no color, no KOHAKURIVER_* from the caller). */
export async function runCaptured(argv: string[], options: RunCapturedOptions = {}): Promise<CliResult> {
  const running = startCaptured(argv, options);
  const code = await running.exit;
  return { code, stdout: running.stdout.text, stderr: running.stderr.text };
}

export interface RunningCli {
  stdout: CaptureStream;
  stderr: CaptureStream;
  /** Resolves to the exit code. */
  exit: Promise<number>;
}

/** Starts `kohakuriver ARGV...` without waiting, for commands that run until stopped or until a task ends. */
export function startCaptured(argv: string[], options: RunCapturedOptions = {}): RunningCli {
  const stdout = new CaptureStream(options.tty === true);
  const stderr = new CaptureStream(options.tty === true);
  const env = { NO_COLOR: "1", ...options.env };
  const exit = runCli(argv, {
    stdout,
    stderr,
    env,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { stdout, stderr, exit };
}

/** Polls `condition` every 50 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  description: string,
  condition: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
