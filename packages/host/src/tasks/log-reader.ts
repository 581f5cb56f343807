/** Reads a task's log file, whole or its last N lines, without loading more of a large file than needed. */

import { open } from "node:fs/promises";

const CHUNK_BYTES = 64 * 1024;
/** Upper bound on what one request returns, so a runaway log cannot exhaust the host's memory. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Returns the file's text (the last `lines` lines when given); a missing file reads as empty. */
export async function readLogTail(path: string, lines?: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }

  try {
    const { size } = await handle.stat();
    if (lines === undefined) {
      const length = Math.min(size, MAX_RESPONSE_BYTES);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString("utf8");
    }

    // Read backwards in chunks until enough newlines are seen (one more than asked, for a trailing newline).
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    let collected = 0;
    while (position > 0 && newlines <= lines && collected < MAX_RESPONSE_BYTES) {
      const length = Math.min(CHUNK_BYTES, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, position);
      chunks.unshift(buffer);
      collected += length;
      for (const byte of buffer) if (byte === 0x0a) newlines += 1;
    }

    const text = Buffer.concat(chunks).toString("utf8");
    const endsWithNewline = text.endsWith("\n");
    const parts = (endsWithNewline ? text.slice(0, -1) : text).split("\n");
    const tail = parts.slice(-lines).join("\n");
    return endsWithNewline ? `${tail}\n` : tail;
  } finally {
    await handle.close();
  }
}
