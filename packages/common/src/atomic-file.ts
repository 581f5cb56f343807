import { closeSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes a file so that readers and a crash at any moment see either the old or the new content:
 * write a temporary file beside it, fsync it, rename it over the target, then fsync the directory.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);

  const directory = openSync(dirname(path), "r");
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}
