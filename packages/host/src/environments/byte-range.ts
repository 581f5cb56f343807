/** Parses a single-range HTTP Range header (RFC 9110 section 14.1.2) against a file size. */

export interface ByteRange {
  /** First and last byte, both inclusive. */
  start: number;
  end: number;
}

/**
 * Returns the range to send, null to send the whole file (no header, or one this server ignores, such as
 * several ranges), or "unsatisfiable" when the range starts past the end of the file.
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | null | "unsatisfiable" {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;

  if (first === "") {
    // A suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0) return "unsatisfiable";
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return null;
  return { start, end };
}
