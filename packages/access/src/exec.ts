/**
 * Runs a program in a running container through the Engine's exec API, with its arguments as an array:
 * nothing is ever interpreted by a shell, so user input such as file names is passed literally.
 */

import type Docker from "dockerode";
import { PassThrough } from "node:stream";

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecOptions {
  /** Ends the wait after this long; the program is left to the container (default 30 000 ms). */
  timeoutMs?: number;
  /** Bytes written to the program's standard input, which is then closed. */
  stdin?: Buffer;
  /** Stops reading an output stream past this many bytes (default 64 MiB each). */
  maxOutputBytes?: number;
  user?: string;
}

export class ExecTimeoutError extends Error {
  override name = "ExecTimeoutError";
}

/** Exit code of an exec whose program does not exist in the image (as reported by the runtime). */
export const EXEC_NOT_FOUND_CODES: ReadonlySet<number> = new Set([126, 127]);

export async function runExec(
  container: Docker.Container,
  argv: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxOutput = options.maxOutputBytes ?? 64 * 1024 * 1024;
  const exec = await container.exec({
    Cmd: argv,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: options.stdin !== undefined,
    Tty: false,
    ...(options.user === undefined ? {} : { User: options.user }),
  });
  const stream = await exec.start({ hijack: true, stdin: options.stdin !== undefined });
  const stdout = new BoundedSink(maxOutput);
  const stderr = new BoundedSink(maxOutput);
  const outStream = new PassThrough();
  const errStream = new PassThrough();
  outStream.on("data", (chunk: Buffer) => stdout.push(chunk));
  errStream.on("data", (chunk: Buffer) => stderr.push(chunk));
  container.modem.demuxStream(stream, outStream, errStream);
  if (options.stdin !== undefined) {
    stream.write(options.stdin);
    // Half-close, so the program receives the end of its input while its output is still read.
    (stream as unknown as { end(): void }).end();
  }

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new ExecTimeoutError(`${argv[0] ?? "exec"} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    stream.on("end", finish);
    stream.on("close", finish);
    stream.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout: stdout.bytes(), stderr: stderr.bytes() };
}

class BoundedSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    if (this.size >= this.limit) return;
    const room = this.limit - this.size;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/**
 * Returns the host process id of a started exec. Right after a start (with or without a TTY) Docker
 * Engine 20.10 still reports 0, so it is asked again for up to a second; 0 means the process was never seen.
 */
export async function execProcessId(exec: Docker.Exec): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const info = await exec.inspect();
    if (info.Pid > 0 || !info.Running) return info.Pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return 0;
}
