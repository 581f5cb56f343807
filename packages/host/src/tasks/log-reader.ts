/**
 * Reads a task's log file without loading more of a large file than needed: the whole file, its last N
 * lines, or the bytes from an offset on. Every read also returns the byte offset where the returned text
 * ends and the file's size, so a client can follow the log by asking for what comes after.
 */

import { open, type FileHandle } from "node:fs/promises";

const CHUNK_BYTES = 64 * 1024;
/** Upper bound on what one request returns, so a runaway log cannot exhaust the host's memory. */
export const MAX_LOG_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface LogSlice {
  text: string;
  /** Byte offset just past the returned text: the offset to ask for next. */
  endOffset: number;
  /** Size of the file in bytes when it was read. */
  size: number;
}

export interface LogReadOptions {
  /** Return only the last N lines. */
  lines?: number | undefined;
  /** Return the bytes from this offset on (at most 16 MiB); ignored when `lines` is given. */
  offset?: number | undefined;
}

/**
 * Reads a log. Without options it returns the end of the file (its last 16 MiB at most). A missing file
 * reads as empty. Text never ends inside a multi-byte UTF-8 character: such bytes are left for the next read.
 */
export async function readLog(path: string, options: LogReadOptions = {}): Promise<LogSlice> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { text: "", endOffset: 0, size: 0 };
    throw error;
  }

  try {
    const { size } = await handle.stat();
    if (options.lines !== undefined) return await readTailLines(handle, size, options.lines);

    const start = options.offset ?? Math.max(0, size - MAX_LOG_RESPONSE_BYTES);
    const end = Math.min(size, start + MAX_LOG_RESPONSE_BYTES);
    const bytes = await readRange(handle, start, end);
    const complete = bytes.subarray(0, completeUtf8Length(bytes));
    return { text: complete.toString("utf8"), endOffset: start + complete.length, size };
  } finally {
    await handle.close();
  }
}

async function readTailLines(handle: FileHandle, size: number, lines: number): Promise<LogSlice> {
  // Read backwards in chunks until enough newlines are seen (one more than asked, for a trailing newline).
  const chunks: Buffer[] = [];
  let position = size;
  let newlines = 0;
  let collected = 0;
  while (position > 0 && newlines <= lines && collected < MAX_LOG_RESPONSE_BYTES) {
    const length = Math.min(CHUNK_BYTES, position);
    position -= length;
    const buffer = await readRange(handle, position, position + length);
    chunks.unshift(buffer);
    collected += length;
    for (const byte of buffer) if (byte === 0x0a) newlines += 1;
  }

  const bytes = Buffer.concat(chunks);
  const complete = bytes.subarray(0, completeUtf8Length(bytes));
  const text = complete.toString("utf8");
  const endsWithNewline = text.endsWith("\n");
  const parts = (endsWithNewline ? text.slice(0, -1) : text).split("\n");
  const tail = parts.slice(-lines).join("\n");
  return { text: endsWithNewline ? `${tail}\n` : tail, endOffset: position + complete.length, size };
}

async function readRange(handle: FileHandle, start: number, end: number): Promise<Buffer> {
  const buffer = Buffer.alloc(Math.max(0, end - start));
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** Returns how many leading bytes of `bytes` end on a UTF-8 character boundary. */
export function completeUtf8Length(bytes: Buffer): number {
  // Look back over at most three continuation bytes for the lead byte of the last character.
  for (let back = 1; back <= Math.min(4, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    return utf8SequenceLength(byte) > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

/** Bytes in the UTF-8 sequence that starts with `leadByte`. */
function utf8SequenceLength(leadByte: number): number {
  if (leadByte >= 0xf0) return 4;
  if (leadByte >= 0xe0) return 3;
  if (leadByte >= 0xc0) return 2;
  return 1;
}
