/** Reads a secret from the terminal without echoing it. */

import { createInterface } from "node:readline";
import { Writable } from "node:stream";

import { UsageError } from "./errors.js";
import type { CliStream } from "./output.js";

/**
 * Asks for a value on the terminal; typed characters are not shown when `hidden`. Raises a UsageError
 * naming `option` when stdin is not a terminal, where no one could type it.
 */
export async function promptLine(
  question: string,
  stderr: CliStream,
  option: string,
  hidden: boolean,
): Promise<string> {
  if (process.stdin.isTTY !== true) {
    throw new UsageError(`missing ${option}: pass it on the command line, because stdin is not a terminal`);
  }
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) stderr.write(chunk.toString());
      callback();
    },
  });
  const reader = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      reader.question(question, (answer) => resolve(answer));
      muted = hidden;
    });
  } finally {
    reader.close();
    if (hidden) stderr.write("\n");
  }
}
