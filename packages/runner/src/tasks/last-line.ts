import { open } from "node:fs/promises";

/** Returns the last non-empty line of a text file (reading at most its last 4 KiB), or null. */
export async function readLastLine(path: string): Promise<string | null> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch {
    return null;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 4096);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer
      .toString("utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "");
    return lines[lines.length - 1] ?? null;
  } finally {
    await handle.close();
  }
}
