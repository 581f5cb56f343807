/**
 * Paths of the file API: absolute POSIX paths inside a container, normalised lexically before use.
 * Kernel interfaces (`/proc`, `/sys`, `/dev`) are rejected, because writing there can change the node
 * itself rather than the container's files.
 */

import { InvalidInputError } from "@kohakuriver/api";

/** Maximum length of one name in a path, in bytes (Linux NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** Maximum length of a path, in bytes (Linux PATH_MAX, 4096, less the terminating NUL). */
export const MAX_PATH_BYTES = 4095;

/** Directories that the file API never reads, writes or lists, with everything below them. */
export const FORBIDDEN_ROOTS = ["/proc", "/sys", "/dev"] as const;

/**
 * Returns the normalised absolute form of `path`: `.` and empty segments are dropped and `..` removes the
 * segment before it (at `/` it stays at `/`, as the kernel resolves it). Raises InvalidInputError naming
 * `field` for a relative path, a NUL byte, or a path under FORBIDDEN_ROOTS.
 */
export function normalizeContainerPath(path: string, field: string): string {
  if (path.includes("\0")) throw new InvalidInputError(`${field}: must not contain a NUL byte`, field);
  if (!path.startsWith("/")) {
    throw new InvalidInputError(
      `${field}: ${quotePath(path)} is not an absolute path; start it with /, such as /shared/${path}`,
      field,
    );
  }
  const normalized = collapseSegments(path);
  rejectForbidden(normalized, field, path);
  rejectTooLong(normalized, field);
  return normalized;
}

/**
 * Raises InvalidInputError when a name of `path` is longer than NAME_MAX (255 bytes) or the path longer
 * than PATH_MAX less its NUL (4095 bytes), the limits of Linux and its usual filesystems. The Engine
 * returns a bare HTTP 500 for such a path.
 */
function rejectTooLong(path: string, field: string): void {
  for (const segment of path.split("/")) {
    const bytes = Buffer.byteLength(segment);
    if (bytes > MAX_NAME_BYTES) {
      throw new InvalidInputError(
        `${field}: ${quotePath(path)} has a name of ${bytes} bytes; the limit is ${MAX_NAME_BYTES} bytes per name, so shorten it`,
        field,
      );
    }
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_PATH_BYTES) {
    throw new InvalidInputError(
      `${field}: ${quotePath(path)} is ${bytes} bytes long; the limit is ${MAX_PATH_BYTES} bytes, so use a shorter path`,
      field,
    );
  }
}

/** Drops `.` and empty segments of an absolute path and applies `..`, with no other check. */
export function collapseSegments(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join("/")}`;
}

/** Raises InvalidInputError when `path` (normalised) is one of FORBIDDEN_ROOTS or below one. */
export function rejectForbidden(path: string, field: string, given = path): void {
  const root = forbiddenRootOf(path);
  if (root === null) return;
  const via = given === path ? "" : ` (it resolves to ${quotePath(path)})`;
  throw new InvalidInputError(
    `${field}: ${quotePath(given)}${via} is under ${root}, which the file API does not access; use a path elsewhere, such as /shared or /root`,
    field,
  );
}

/** Returns the forbidden root that contains `path`, or null. */
export function forbiddenRootOf(path: string): string | null {
  for (const root of FORBIDDEN_ROOTS) {
    if (path === root || path.startsWith(`${root}/`)) return root;
  }
  return null;
}

/** Returns the parent of a normalised path, or null for `/`. */
export function parentPath(path: string): string | null {
  if (path === "/") return null;
  const index = path.lastIndexOf("/");
  return index === 0 ? "/" : path.slice(0, index);
}

/** Returns the last segment of a normalised path (empty for `/`). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function joinPath(directory: string, name: string): string {
  return directory === "/" ? `/${name}` : `${directory}/${name}`;
}

/** Quotes a path for a message with JSON escapes, so that newlines and control characters stay visible. */
export function quotePath(path: string): string {
  const shown = path.length > 300 ? `${path.slice(0, 300)}…` : path;
  return JSON.stringify(shown);
}
