/**
 * File operations in a running container, for the runner's task and VPS containers and the host's
 * environment containers: list, read, write, mkdir, rename, delete and stat.
 *
 * Reads, writes, directory creation and stat go through the Engine's archive API, so they work with any
 * image. Listing, renaming and deleting run `find`, `mv` and `rm` through Docker exec with argument arrays,
 * so a file name is never interpreted by a shell. Nothing is copied into the container.
 *
 * Every path is normalised, and its symlinks are resolved segment by segment with the Engine's stat
 * before use, so a path that is, or leads through a link to, `/proc`, `/sys` or `/dev` is rejected.
 * NOTE: a process inside the container can swap a link between that check and the operation. The check
 * keeps API callers away from kernel interfaces but does not defend against the container itself.
 */

import {
  ConflictError,
  FILE_LIST_MAX_ENTRIES,
  FILE_TRANSFER_MAX_BYTES,
  ForbiddenError,
  InvalidInputError,
  KohakuRiverError,
  NotFoundError,
  PayloadTooLargeError,
  type FileDeleteQuery,
  type FileDeleteResponse,
  type FileEncoding,
  type FileEntry,
  type FileType,
  type FileListQuery,
  type FileListResponse,
  type FileMkdirRequest,
  type FileMkdirResponse,
  type FileReadQuery,
  type FileReadResponse,
  type FileRenameRequest,
  type FileRenameResponse,
  type FileStatResponse,
  type FileWriteRequest,
  type FileWriteResponse,
} from "@kohakuriver/api";
import type Docker from "dockerode";
import tar from "tar-stream";

import { EXEC_NOT_FOUND_CODES, runExec, type ExecResult } from "../exec.js";
import { putArchive, readFirstArchiveEntry, statContainerPath } from "./engine-archive.js";
import type { PathStat } from "./path-stat.js";
import {
  baseName,
  collapseSegments,
  joinPath,
  normalizeContainerPath,
  parentPath,
  quotePath,
  rejectForbidden,
} from "./paths.js";

/** Time limit of each `find`, `mv` and `rm` run in the container. */
export const FILE_EXEC_TIMEOUT_MS = 30_000;
/** Concurrent Engine stat requests while listing a directory. */
const LIST_STAT_CONCURRENCY = 16;
/** Bytes of a file examined to tell text from binary in `stat`. */
const BINARY_SNIFF_BYTES = 8192;
/** Symlinks followed while resolving one path; more means a loop. */
const MAX_SYMLINK_HOPS = 40;
/**
 * Modes of files and directories that a write or mkdir creates.
 * NOTE: new files and directories are owned by uid 0 and gid 0, as a root shell would create them, also
 * in images whose default user is another one. A replaced file keeps its owner and mode.
 */
const NEW_FILE_MODE = 0o644;
const NEW_DIRECTORY_MODE = 0o755;

export class ContainerFiles {
  /**
   * @param container a running container
   * @param label describes it in messages, such as "task 42" or "environment container kohakuriver-env-x"
   */
  constructor(
    private readonly container: Docker.Container,
    private readonly label: string,
  ) {}

  async list(query: FileListQuery): Promise<FileListResponse> {
    const path = normalizeContainerPath(query.path, "path");
    const real = await this.resolve(path, "path", true);
    const stat = await this.requireStat(real, path, "path");
    if (stat.type !== "directory") {
      throw new InvalidInputError(`path: ${quotePath(path)} is not a directory; read it with read or stat`, "path");
    }

    const found = await this.exec(["find", real, "-mindepth", "1", "-maxdepth", "1", "-print0"], path, "path");
    const prefix = real === "/" ? "/" : `${real}/`;
    let names = found.stdout
      .toString("utf8")
      .split("\0")
      .filter((entry) => entry.startsWith(prefix) && entry.length > prefix.length)
      .map((entry) => entry.slice(prefix.length));
    if (!query.show_hidden) names = names.filter((name) => !name.startsWith("."));
    names.sort();
    const truncated = names.length > FILE_LIST_MAX_ENTRIES;
    if (truncated) names = names.slice(0, FILE_LIST_MAX_ENTRIES);

    const stats = await mapWithConcurrency(names, LIST_STAT_CONCURRENCY, (name) =>
      statContainerPath(this.container, joinPath(real, name), "path"),
    );
    const entries: FileEntry[] = [];
    names.forEach((name, index) => {
      const entry = stats[index];
      // An entry removed between find and stat is left out.
      if (entry === null || entry === undefined) return;
      entries.push({
        name,
        path: joinPath(path, name),
        type: entry.type,
        size: entry.type === "file" ? entry.size : -1,
        mtime: entry.mtime,
        permissions: entry.permissions,
        link_target: entry.linkTarget,
      });
    });
    return { path, entries, parent: parentPath(path), truncated };
  }

  async read(query: FileReadQuery): Promise<FileReadResponse> {
    const path = normalizeContainerPath(query.path, "path");
    const real = await this.resolve(path, "path", true);
    const stat = await this.requireStat(real, path, "path");
    requireRegularFile(stat, path, "path");

    const entry = await readFirstArchiveEntry(this.container, real, query.limit, "path");
    const size = entry.header.size ?? stat.size;
    const truncated = size > entry.content.length;
    return {
      path,
      content: encodeContent(entry.content, query.encoding, truncated, path),
      encoding: query.encoding,
      size,
      truncated,
    };
  }

  async write(request: FileWriteRequest): Promise<FileWriteResponse> {
    const path = normalizeContainerPath(request.path, "path");
    const data = decodeContent(request.content, request.encoding);
    if (data.length > FILE_TRANSFER_MAX_BYTES) {
      throw new PayloadTooLargeError(
        `content: ${data.length} bytes is more than the limit of ${FILE_TRANSFER_MAX_BYTES} bytes (50 MiB); copy larger files through /shared`,
      );
    }
    if (path === "/")
      throw new InvalidInputError("path: / is a directory; name a file, such as /root/notes.txt", "path");

    // A write through a symlink writes the file it points to, as a shell redirection would.
    const real = await this.resolve(path, "path", true);
    const existing = await statContainerPath(this.container, real, "path");
    let mode = NEW_FILE_MODE;
    let owner = { uid: 0, gid: 0 };
    if (existing !== null) {
      requireRegularFile(existing, path, "path");
      // Keeps the owner and mode of a file that is replaced.
      const { header } = await readFirstArchiveEntry(this.container, real, 0, "path");
      mode = (header.mode ?? NEW_FILE_MODE) % 0o10000;
      owner = { uid: header.uid ?? 0, gid: header.gid ?? 0 };
    }

    const directory = parentPath(real) as string;
    const { anchor, missing } = await this.existingAncestor(directory, path, "path");
    if (missing.length > 0 && !request.create_parents) {
      throw new NotFoundError(
        `path: the directory ${quotePath(directory)} does not exist; create it first or send create_parents: true`,
      );
    }
    const archive = tar.pack();
    const mtime = new Date();
    for (let index = 1; index <= missing.length; index += 1) {
      const name = missing.slice(0, index).join("/");
      archive.entry({ name, type: "directory", mode: NEW_DIRECTORY_MODE, uid: 0, gid: 0, mtime });
    }
    archive.entry({ name: [...missing, baseName(real)].join("/"), type: "file", mode, ...owner, mtime }, data);
    archive.finalize();
    await putArchive(this.container, anchor, archive, "path");
    return { path, size: data.length, success: true };
  }

  async mkdir(request: FileMkdirRequest): Promise<FileMkdirResponse> {
    const path = normalizeContainerPath(request.path, "path");
    const real = await this.resolve(path, "path", true);
    const existing = await statContainerPath(this.container, real, "path");
    if (existing !== null) {
      if (existing.type === "directory" && request.parents) return { path, success: true, created: false };
      const what = existing.type === "directory" ? "directory" : existing.type;
      throw new ConflictError(`path: ${quotePath(path)} already exists (a ${what}); choose another name`);
    }

    const { anchor, missing } = await this.existingAncestor(parentPath(real) as string, path, "path");
    if (missing.length > 0 && !request.parents) {
      throw new NotFoundError(
        `path: the parent directory ${quotePath(parentPath(path) as string)} does not exist; send parents: true to create it too`,
      );
    }
    const names = [...missing, baseName(real)];
    const archive = tar.pack();
    const mtime = new Date();
    for (let index = 1; index <= names.length; index += 1) {
      archive.entry({ name: names.slice(0, index).join("/"), type: "directory", mode: NEW_DIRECTORY_MODE, mtime });
    }
    archive.finalize();
    await putArchive(this.container, anchor, archive, "path");
    return { path, success: true, created: true };
  }

  async rename(request: FileRenameRequest): Promise<FileRenameResponse> {
    const source = normalizeContainerPath(request.source, "source");
    const destination = normalizeContainerPath(request.destination, "destination");
    if (source === "/") throw new InvalidInputError("source: / cannot be renamed; name a file or directory", "source");
    if (destination === "/") {
      throw new InvalidInputError(
        "destination: / already exists; name a new path such as /root/new-name",
        "destination",
      );
    }
    // A symlink is renamed itself, so only the directories on the way are resolved.
    const realSource = await this.resolve(source, "source", false);
    const realDestination = await this.resolve(destination, "destination", false);
    await this.requireStat(realSource, source, "source");
    if (realDestination === realSource) {
      throw new InvalidInputError(
        `destination: ${quotePath(destination)} is the source itself; choose another name`,
        "destination",
      );
    }
    if (realDestination.startsWith(`${realSource}/`)) {
      throw new InvalidInputError(
        `destination: ${quotePath(destination)} is inside the source ${quotePath(source)}; a directory cannot be moved into itself`,
        "destination",
      );
    }
    const target = await statContainerPath(this.container, realDestination, "destination");
    if (target !== null && !request.overwrite) {
      throw new ConflictError(
        `destination: ${quotePath(destination)} already exists; send overwrite: true to replace it, or choose another name`,
      );
    }
    if (target?.type === "directory") {
      throw new ConflictError(
        `destination: ${quotePath(destination)} is an existing directory, which rename does not replace; delete it first`,
      );
    }
    const destinationDirectory = parentPath(realDestination) as string;
    const directoryStat = await statContainerPath(this.container, destinationDirectory, "destination");
    if (directoryStat?.type !== "directory") {
      throw new NotFoundError(
        `destination: the directory ${quotePath(parentPath(destination) as string)} does not exist; create it with mkdir first`,
      );
    }

    // -T treats the destination as the new name, never as a directory to move into.
    await this.exec(["mv", "-f", "-T", "--", realSource, realDestination], source, "source");
    return {
      message: `Renamed ${quotePath(source)} to ${quotePath(destination)}.`,
      source,
      destination,
    };
  }

  async delete(query: FileDeleteQuery): Promise<FileDeleteResponse> {
    const path = normalizeContainerPath(query.path, "path");
    if (path === "/") throw new InvalidInputError("path: / cannot be deleted; name a file or directory", "path");
    // A symlink is deleted itself, never the file it points to.
    const real = await this.resolve(path, "path", false);
    const stat = await this.requireStat(real, path, "path");
    if (stat.type === "directory" && !query.recursive) {
      throw new InvalidInputError(
        `recursive: ${quotePath(path)} is a directory; send recursive=true to delete it with everything in it`,
        "recursive",
      );
    }
    await this.exec(query.recursive ? ["rm", "-rf", "--", real] : ["rm", "-f", "--", real], path, "path");
    return { message: `Deleted ${quotePath(path)}.`, path };
  }

  async stat(rawPath: string): Promise<FileStatResponse> {
    const path = normalizeContainerPath(rawPath, "path");
    // The path itself is described (lstat), but a link that resolves into /proc, /sys or /dev is rejected.
    const real = await this.resolve(path, "path", false);
    const stat = await this.requireStat(real, path, "path");
    if (stat.linkTarget !== null) rejectForbidden(stat.linkTarget, "path", path);

    const sniff = stat.type === "file" ? BINARY_SNIFF_BYTES : 0;
    const entry = await readFirstArchiveEntry(this.container, real, sniff, "path");
    const uid = entry.header.uid ?? 0;
    const gid = entry.header.gid ?? 0;
    const names = await this.accountNames();
    return {
      path,
      name: path === "/" ? "/" : baseName(path),
      type: stat.type,
      size: stat.size,
      mtime: stat.mtime,
      permissions: stat.permissions,
      mode: stat.octalMode,
      uid,
      gid,
      owner: names.users.get(uid) ?? String(uid),
      group: names.groups.get(gid) ?? String(gid),
      link_target: stat.linkTarget,
      is_readable: (stat.permissionBits & 0o400) !== 0,
      is_writable: (stat.permissionBits & 0o200) !== 0,
      is_binary: stat.type === "file" && isBinary(entry.content),
    };
  }

  /**
   * Resolves the symlinks of a normalised path inside the container and rejects a result under /proc, /sys
   * or /dev. With `followFinal` false the last segment is kept as it is (for operations on a link itself).
   * Segments that do not exist are appended unresolved.
   */
  async resolve(path: string, field: string, followFinal: boolean): Promise<string> {
    const pending = path.split("/").filter((segment) => segment !== "");
    let real = "/";
    // The type of `real`, or null when it does not exist.
    let realType: FileType | null = "directory";
    let hops = 0;
    while (pending.length > 0) {
      // The Engine returns a bare HTTP 500 for a path through a file, so it is rejected here.
      if (realType !== null && realType !== "directory") {
        throw new InvalidInputError(
          `${field}: ${quotePath(real)} on the way to ${quotePath(path)} is not a directory`,
          field,
        );
      }
      const segment = pending.shift() as string;
      const candidate = joinPath(real, segment);
      if (pending.length === 0 && !followFinal) {
        real = candidate;
        break;
      }
      const stat = await statContainerPath(this.container, candidate, field);
      if (stat === null) {
        real = [candidate, ...pending].join("/");
        break;
      }
      if (stat.type === "symlink" && stat.linkTarget !== null) {
        hops += 1;
        if (hops > MAX_SYMLINK_HOPS) {
          throw new InvalidInputError(`${field}: ${quotePath(path)} has too many levels of symbolic links`, field);
        }
        // The Engine reports the link's target with every link on the way followed.
        real = collapseSegments(stat.linkTarget);
        realType = pending.length > 0 ? ((await statContainerPath(this.container, real, field))?.type ?? null) : null;
      } else {
        real = candidate;
        realType = stat.type;
      }
    }
    rejectForbidden(real, field, path);
    return real;
  }

  private async requireStat(real: string, path: string, field: string): Promise<PathStat> {
    const stat = await statContainerPath(this.container, real, field);
    if (stat === null) throw new NotFoundError(`${field}: ${quotePath(path)} not found in ${this.label}`);
    return stat;
  }

  /** Returns the deepest existing directory at or above `directory`, and the names below it that are missing. */
  private async existingAncestor(
    directory: string,
    path: string,
    field: string,
  ): Promise<{ anchor: string; missing: string[] }> {
    const missing: string[] = [];
    let anchor = directory;
    for (;;) {
      const stat = await statContainerPath(this.container, anchor, field);
      if (stat !== null) {
        if (stat.type !== "directory") {
          throw new InvalidInputError(
            `${field}: ${quotePath(anchor)} on the way to ${quotePath(path)} is not a directory`,
            field,
          );
        }
        return { anchor, missing };
      }
      missing.unshift(baseName(anchor));
      anchor = parentPath(anchor) as string;
    }
  }

  /** Reads the container's /etc/passwd and /etc/group for owner names; images without them give empty maps. */
  private async accountNames(): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
    const readTable = async (file: string): Promise<Map<number, string>> => {
      const table = new Map<number, string>();
      try {
        const stat = await statContainerPath(this.container, file, "path");
        if (stat?.type !== "file") return table;
        const entry = await readFirstArchiveEntry(this.container, file, 1024 * 1024, "path");
        for (const line of entry.content.toString("utf8").split("\n")) {
          const [name, , id] = line.split(":");
          if (name !== undefined && name !== "" && id !== undefined && /^\d+$/.test(id) && !table.has(Number(id))) {
            table.set(Number(id), name);
          }
        }
      } catch (error) {
        if (!(error instanceof KohakuRiverError)) throw error;
      }
      return table;
    };
    return { users: await readTable("/etc/passwd"), groups: await readTable("/etc/group") };
  }

  /** Runs a tool in the container and maps its failure to an API error about `path`. */
  private async exec(argv: string[], path: string, field: string): Promise<ExecResult> {
    const result = await runExec(this.container, argv, { timeoutMs: FILE_EXEC_TIMEOUT_MS });
    if (result.exitCode === 0) return result;
    throw toolFailure(result, argv[0] as string, path, field, this.label);
  }
}

/** Maps a failed `find`, `mv` or `rm` to an API error from its message. */
export function toolFailure(
  result: ExecResult,
  tool: string,
  path: string,
  field: string,
  label: string,
): KohakuRiverError {
  const message = `${result.stderr.toString("utf8")}${result.stdout.toString("utf8")}`.trim().slice(0, 500);
  const about = `${field}: ${quotePath(path)}`;
  if (
    EXEC_NOT_FOUND_CODES.has(result.exitCode) &&
    /not found|no such file or directory: unknown|executable/i.test(message)
  ) {
    return new ConflictError(`${label} has no ${tool} program, which this operation needs; install it in the image`);
  }
  if (/No such file or directory/i.test(message)) return new NotFoundError(`${about} not found: ${message}`);
  if (/Permission denied|Operation not permitted|Read-only file system/i.test(message)) {
    return new ForbiddenError(`${about} cannot be changed: ${message}`);
  }
  if (/Directory not empty|File exists|busy/i.test(message)) return new ConflictError(`${about}: ${message}`);
  if (/Is a directory|Not a directory|Invalid argument/i.test(message)) {
    return new InvalidInputError(`${about}: ${message}`, field);
  }
  return new KohakuRiverError("internal", 500, `${tool} failed in ${label} (exit code ${result.exitCode}): ${message}`);
}

function requireRegularFile(stat: PathStat, path: string, field: string): void {
  if (stat.type === "directory") {
    throw new InvalidInputError(`${field}: ${quotePath(path)} is a directory; list it with list instead`, field);
  }
  if (stat.type !== "file") {
    throw new InvalidInputError(
      `${field}: ${quotePath(path)} is not a regular file (it is a device, pipe or socket)`,
      field,
    );
  }
}

const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes request content; base64 must be canonical (no whitespace or stray characters). */
export function decodeContent(content: string, encoding: FileEncoding): Buffer {
  if (encoding === "utf-8") return Buffer.from(content, "utf8");
  if (content.length % 4 !== 0 || !STRICT_BASE64.test(content)) {
    throw new InvalidInputError(
      "content: is not valid base64 (length a multiple of 4, only A-Z a-z 0-9 + / and = padding); send encoding utf-8 for text",
      "content",
    );
  }
  return Buffer.from(content, "base64");
}

/** Encodes file bytes for a read response; text that is not UTF-8 is rejected rather than altered. */
function encodeContent(content: Buffer, encoding: FileEncoding, truncated: boolean, path: string): string {
  if (encoding === "base64") return content.toString("base64");
  try {
    // When the content is cut at `limit`, a character split at the end is dropped rather than rejected.
    return new TextDecoder("utf-8", { fatal: true }).decode(content, { stream: truncated });
  } catch {
    throw new InvalidInputError(
      `encoding: ${quotePath(path)} is not valid UTF-8 text; read it with encoding=base64`,
      "encoding",
    );
  }
}

/** Tells whether a file is binary: a NUL byte or invalid UTF-8 in its first bytes. */
function isBinary(head: Buffer): boolean {
  if (head.includes(0)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true });
    return false;
  } catch {
    return true;
  }
}

async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
