/**
 * The local end of a terminal WebSocket, for `kohakuriver connect` and `docker container shell`. A
 * terminal on stdin is switched to raw mode, so that every key (Ctrl-C included) goes to the remote shell.
 * The window size is sent at the start and on every SIGWINCH. The terminal's settings are restored however
 * the session ends. Without a terminal, stdin is sent as it is and its end is sent as Ctrl-D.
 */

import { openWebSocket, WebSocketRefusedError } from "@kohakuriver/access";
import { TerminalServerFrameSchema } from "@kohakuriver/api";
import { StringDecoder } from "node:string_decoder";
import type WebSocket from "ws";

import { CliError } from "./errors.js";

export interface TerminalClientOptions {
  /** The WebSocket URL of the terminal. */
  url: string;
  token: string | undefined;
  /** Label of the terminal's target in messages, such as "task 42". */
  label: string;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

/** The end-of-transmission key (Ctrl-D), which ends a shell reading from an empty line. */
const END_OF_INPUT = "\u0004";

/** Runs the session until the remote shell exits or the connection ends; returns the exit code for the CLI. */
export async function runTerminalClient(options: TerminalClientOptions): Promise<number> {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;

  let socket: WebSocket;
  try {
    socket = await openWebSocket(options.url, { token: options.token });
  } catch (error) {
    if (error instanceof WebSocketRefusedError) {
      throw new CliError(`cannot open a terminal on ${options.label}: ${error.detail}`);
    }
    throw new CliError(`cannot reach the host at ${options.url}: ${(error as Error).message}`);
  }

  const raw = stdin.isTTY === true;
  const sendSize = (): void => {
    if (stdout.isTTY === true && socket.readyState === socket.OPEN) {
      socket.send(JSON.stringify({ type: "resize", rows: stdout.rows, cols: stdout.columns }));
    }
  };
  const decoder = new StringDecoder("utf8");
  const onInput = (chunk: Buffer): void => {
    const text = decoder.write(chunk);
    if (text !== "" && socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: "input", data: text }));
  };
  const onInputEnd = (): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: "input", data: END_OF_INPUT }));
  };

  const restore = (): void => {
    stdin.removeListener("data", onInput);
    stdin.removeListener("end", onInputEnd);
    stdout.removeListener("resize", sendSize);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  };
  // Whatever ends the process (an uncaught error included), the local terminal gets its settings back.
  process.once("exit", restore);

  let errorText: string | null = null;
  try {
    return await new Promise<number>((resolve) => {
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        let frame;
        try {
          frame = TerminalServerFrameSchema.safeParse(JSON.parse(data.toString("utf8")));
        } catch {
          return;
        }
        if (!frame.success) return;
        if (frame.data.type === "output") stdout.write(frame.data.data);
        else errorText = frame.data.data;
      });
      socket.on("close", (code) => resolve(errorText === null && (code === 1000 || code === 1005) ? 0 : 1));
      socket.on("error", (error) => {
        errorText ??= `the connection failed: ${error.message}`;
      });

      sendSize();
      if (raw) stdin.setRawMode(true);
      stdin.on("data", onInput);
      stdin.on("end", onInputEnd);
      stdin.resume();
      // Node.js emits `resize` on a terminal stdout when SIGWINCH arrives.
      stdout.on("resize", sendSize);
    });
  } finally {
    restore();
    process.removeListener("exit", restore);
    if (errorText !== null) stderr.write(`${raw ? "\r\n" : ""}kohakuriver: ${errorText as string}\n`);
  }
}
