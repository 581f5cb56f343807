/**
 * One interactive terminal in a running container, for the runner's task containers and
 * the host's environment containers: an Engine exec with a TTY on /bin/bash, else /bin/sh, joined to a
 * WebSocket that speaks the JSON frames of `TerminalClientFrameSchema`. When either side ends, the other
 * is ended too, and every process of the exec's session gets SIGHUP, then SIGKILL (see
 * `endProcessSession`).
 */

import { TerminalClientFrameSchema, terminalErrorFrame, type TerminalClientFrame } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import type Docker from "dockerode";
import type { Duplex } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import WebSocket from "ws";

import { DrainGate } from "./drain-gate.js";
import { execProcessId } from "./exec.js";
import { WebSocketSender, canReply, closeSocket } from "./flow.js";
import { statContainerPath } from "./files/engine-archive.js";
import { endProcessSession } from "./process-session.js";

/** How long the session waits for the client's first `resize`, so that the shell starts at the right size. */
export const INITIAL_RESIZE_WAIT_MS = 2000;
/** Bytes of client frames kept while the shell starts; beyond them the WebSocket is paused. */
const EARLY_INPUT_MAX_BYTES = 1024 * 1024;
/** The shells tried, in order. */
export const TERMINAL_SHELLS = ["/bin/bash", "/bin/sh"] as const;
/** Output is read and sent in chunks of at most this size. */
const OUTPUT_CHUNK_BYTES = 4096;

export interface TerminalSessionOptions {
  container: Docker.Container;
  socket: WebSocket;
  logger: Logger;
  /** Describes the container in messages, such as "task 42" or "environment container kohakuriver-env-x". */
  label: string;
  resizeWaitMs?: number;
}

export async function runTerminalSession(options: TerminalSessionOptions): Promise<void> {
  const { container, socket, logger } = options;
  const early: TerminalClientFrame[] = [];
  let onFrame: ((frame: TerminalClientFrame) => void) | null = null;
  let firstFrame: (() => void) | null = null;
  let earlyBytes = 0;
  let earlyPaused = false;

  socket.on("message", (data: Buffer, isBinary: boolean) => {
    const frame = parseFrame(data, isBinary);
    if (typeof frame === "string") {
      if (canReply(socket)) socket.send(terminalErrorFrame(frame));
      return;
    }
    if (onFrame !== null) {
      onFrame(frame);
    } else {
      early.push(frame);
      earlyBytes += data.length;
      // Input waits in the client while the shell starts, so a flood before it runs is not queued here.
      if (earlyBytes > EARLY_INPUT_MAX_BYTES && !earlyPaused) {
        earlyPaused = true;
        socket.pause();
      }
    }
    firstFrame?.();
  });

  // The first resize, if it comes within the wait, sets the size the shell starts with.
  if (early.length === 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.resizeWaitMs ?? INITIAL_RESIZE_WAIT_MS);
      firstFrame = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.once("close", firstFrame);
    });
    firstFrame = null;
  }
  if (socket.readyState !== WebSocket.OPEN) return;

  const shell = await findShell(container);
  if (shell === null) {
    socket.send(
      terminalErrorFrame(
        `${options.label} has neither ${TERMINAL_SHELLS.join(" nor ")}; a terminal needs a shell in the image`,
      ),
    );
    closeSocket(socket, 1008, "no shell in the image");
    return;
  }

  const initial = early[0]?.type === "resize" ? early.shift() : undefined;
  const size = initial?.type === "resize" ? initial : undefined;
  const exec = await container.exec({
    Cmd: [shell],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
    Env: ["TERM=xterm-256color"],
    ...(size === undefined ? {} : { ConsoleSize: [size.rows, size.cols] }),
  } as Docker.ExecCreateOptions);
  const stream = (await exec.start({
    hijack: true,
    stdin: true,
    Tty: true,
    ...(size === undefined ? {} : { ConsoleSize: [size.rows, size.cols] }),
  } as Docker.ExecStartOptions)) as Duplex;
  const pid = await execProcessId(exec);
  if (size !== undefined) await resize(exec, size.rows, size.cols);
  logger.info({ shell, pid }, "terminal session started");

  // Input waits in the client while the shell does not read it, so a large paste is not queued here.
  // NOTE: while paused, the session does not see a client that leaves; it ends when the shell reads again.
  const gate = new DrainGate(socket);
  let ended = false;
  const end = (reason: string): void => {
    if (ended) return;
    ended = true;
    stream.destroy();
    // Reading again, so that the client's reply to the close frame is seen.
    gate.release(stream);
    closeSocket(socket, 1000, reason);
    void endProcessSession(pid).then(
      () => logger.info({ pid, reason }, "terminal session ended"),
      (error: unknown) =>
        logger.warn({ pid, error: String(error) }, "could not end the processes of a terminal session"),
    );
  };

  const sender = new WebSocketSender(socket);
  const decoder = new StringDecoder("utf8");
  const sendOutput = (chunk: Buffer): void => {
    for (let offset = 0; offset < chunk.length; offset += OUTPUT_CHUNK_BYTES) {
      const text = decoder.write(chunk.subarray(offset, offset + OUTPUT_CHUNK_BYTES));
      if (text !== "") sender.send(JSON.stringify({ type: "output", data: text }), false, stream);
    }
  };
  stream.on("data", sendOutput);
  stream.on("end", () => end("the shell exited"));
  stream.on("close", () => end("the shell exited"));
  stream.on("error", (error) => {
    logger.warn({ error: error.message }, "terminal stream failed");
    end("the terminal stream failed");
  });
  socket.on("close", () => end("the client went away"));
  // A client that left while the Engine started the shell closed before the listener above existed.
  if (socket.readyState !== WebSocket.OPEN) {
    end("the client went away");
    return;
  }

  onFrame = (frame) => {
    if (frame.type === "input") {
      if (frame.data !== "" && !ended) gate.afterWrite(stream, stream.write(frame.data));
    } else {
      void resize(exec, frame.rows, frame.cols).catch((error: unknown) =>
        logger.debug({ error: String(error) }, "terminal resize failed"),
      );
    }
  };
  for (const frame of early.splice(0)) onFrame(frame);
  if (earlyPaused && !gate.blocked) socket.resume();
  // An empty output frame signals to the client that the shell is ready.
  sender.send(JSON.stringify({ type: "output", data: "" }), false);
}

function parseFrame(data: Buffer, isBinary: boolean): TerminalClientFrame | string {
  if (isBinary) return 'binary frames are not accepted; send JSON text frames such as {"type":"input","data":"ls\\n"}';
  let value: unknown;
  try {
    value = JSON.parse(data.toString("utf8"));
  } catch {
    return 'a frame is not JSON; send {"type":"input","data":"…"} or {"type":"resize","rows":R,"cols":C}';
  }
  const parsed = TerminalClientFrameSchema.safeParse(value);
  if (!parsed.success) {
    return 'a frame is not valid: send {"type":"input","data":"…"} or {"type":"resize","rows":R,"cols":C} with rows and cols from 1 to 10000';
  }
  return parsed.data;
}

async function findShell(container: Docker.Container): Promise<string | null> {
  for (const shell of TERMINAL_SHELLS) {
    if ((await statContainerPath(container, shell, "shell")) !== null) return shell;
  }
  return null;
}

async function resize(exec: Docker.Exec, rows: number, cols: number): Promise<void> {
  await exec.resize({ h: rows, w: cols });
}
