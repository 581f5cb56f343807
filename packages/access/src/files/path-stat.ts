/**
 * Decodes the Engine's description of a path in a container: the `X-Docker-Container-Path-Stat` header of
 * `HEAD /containers/{id}/archive`, base64-encoded JSON `{name, size, mode, mtime, linkTarget}`, where
 * `mode` is a Go `os.FileMode` (permission bits in the low 9 bits, type and special bits at the top).
 */

import type { FileType } from "@kohakuriver/api";

/** Go `os.FileMode` bits (Go's io/fs package, stable since Go 1.0). */
const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;
const GO_MODE_SETUID = 2 ** 23;
const GO_MODE_SETGID = 2 ** 22;
const GO_MODE_STICKY = 2 ** 20;
/** Device, named pipe, socket, character device and irregular-file bits: anything but a file or directory. */
const GO_MODE_OTHER_BITS = [2 ** 26, 2 ** 25, 2 ** 24, 2 ** 21, 2 ** 19];

export interface PathStat {
  name: string;
  /** Bytes, as lstat reports them (for a directory or symlink, not a content size). */
  size: number;
  type: FileType;
  /** The permission bits, 0 to 0o777. */
  permissionBits: number;
  /** Permission and special bits in octal, such as `755` or `1777`. */
  octalMode: string;
  /** `ls`-style permissions, such as `rwxr-xr-x`. */
  permissions: string;
  /** ISO 8601. */
  mtime: string;
  /** For a symlink: the absolute path it resolves to inside the container, every link on the way followed. */
  linkTarget: string | null;
}

interface RawPathStat {
  name?: unknown;
  size?: unknown;
  mode?: unknown;
  mtime?: unknown;
  linkTarget?: unknown;
}

/** Decodes the header value; throws Error when it is not the base64 JSON the Engine sends. */
export function decodePathStatHeader(header: string): PathStat {
  let raw: RawPathStat;
  try {
    raw = JSON.parse(Buffer.from(header, "base64").toString("utf8")) as RawPathStat;
  } catch {
    throw new Error(`the Engine sent an unreadable path stat header: ${header.slice(0, 100)}`);
  }
  if (typeof raw !== "object" || raw === null || typeof raw.mode !== "number") {
    throw new Error(`the Engine sent a path stat without a mode: ${header.slice(0, 100)}`);
  }
  return decodePathStat(raw);
}

export function decodePathStat(raw: RawPathStat): PathStat {
  const mode = typeof raw.mode === "number" ? raw.mode : 0;
  const permissionBits = mode % 0o1000;
  const linkTarget = typeof raw.linkTarget === "string" && raw.linkTarget !== "" ? raw.linkTarget : null;
  const mtime = typeof raw.mtime === "string" ? Date.parse(raw.mtime) : Number.NaN;
  return {
    name: typeof raw.name === "string" ? raw.name : "",
    size: typeof raw.size === "number" ? raw.size : 0,
    type: fileTypeOfGoMode(mode),
    permissionBits,
    octalMode: (specialBits(mode) * 0o1000 + permissionBits).toString(8).padStart(3, "0"),
    permissions: permissionString(permissionBits),
    mtime: Number.isNaN(mtime) ? new Date(0).toISOString() : new Date(mtime).toISOString(),
    linkTarget,
  };
}

export function fileTypeOfGoMode(mode: number): FileType {
  if (hasBit(mode, GO_MODE_DIR)) return "directory";
  if (hasBit(mode, GO_MODE_SYMLINK)) return "symlink";
  if (GO_MODE_OTHER_BITS.some((bit) => hasBit(mode, bit))) return "other";
  return "file";
}

/** Tests one bit of a Go FileMode; the top bit does not fit JavaScript's signed 32-bit `&`, so this divides. */
function hasBit(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}

/** Returns the setuid, setgid and sticky bits as the octal digit before the permissions (4, 2, 1). */
function specialBits(mode: number): number {
  return (
    (hasBit(mode, GO_MODE_SETUID) ? 4 : 0) +
    (hasBit(mode, GO_MODE_SETGID) ? 2 : 0) +
    (hasBit(mode, GO_MODE_STICKY) ? 1 : 0)
  );
}

/** Formats permission bits as `ls` does, such as 0o754 → `rwxr-xr--`. */
export function permissionString(bits: number): string {
  const letters = "rwx";
  let text = "";
  for (let index = 8; index >= 0; index -= 1) {
    text += (bits >> index) % 2 === 1 ? (letters[(8 - index) % 3] as string) : "-";
  }
  return text;
}
