/**
 * The change-watch WebSocket of a running container: it reports files created, modified, deleted and
 * moved under a few directories, as JSON frames of `WatchServerFrameSchema`. When the image has
 * `inotifywait` (inotify-tools), it is run through Docker exec and its events are forwarded. Otherwise the
 * directories are polled once a second with `find` and `stat` through exec, and the listings compared.
 * Everything the session started ends when the socket closes.
 */

import {
  DEFAULT_WATCH_PATHS,
  KohakuRiverError,
  WatchClientFrameSchema,
  watchErrorFrame,
  type FileChangeEvent,
  type WatchServerFrame,
} from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import type Docker from "dockerode";
import { PassThrough, type Duplex } from "node:stream";
import WebSocket from "ws";

import { EXEC_NOT_FOUND_CODES, execProcessId, runExec } from "../exec.js";
import { canReply, closeSocket } from "../flow.js";
import { ContainerFiles } from "./container-files.js";
import { statContainerPath } from "./engine-archive.js";
import { FORBIDDEN_ROOTS, normalizeContainerPath, quotePath } from "./paths.js";

/** Matches a path under FORBIDDEN_ROOTS, as an extended regular expression for inotifywait. */
const FORBIDDEN_ROOTS_PATTERN = `^(${FORBIDDEN_ROOTS.join("|")})(/|$)`;

/** Time between two polls, in milliseconds. */
export const WATCH_POLL_INTERVAL_MS = 1000;
/** Levels below each watched directory that polling looks at (inotify watches every level). */
export const WATCH_POLL_DEPTH = 3;
/** Entries that polling compares at most; beyond that, changes are not reported. */
export const WATCH_POLL_MAX_ENTRIES = 10_000;
/** Directories one session watches at most. */
const MAX_WATCH_PATHS = 32;
/** Bytes of path arguments given to one `stat` run, well under the kernel's argument limit. */
const STAT_BATCH_BYTES = 96 * 1024;
const EXEC_TIMEOUT_MS = 30_000;

export interface WatchSessionOptions {
  container: Docker.Container;
  socket: WebSocket;
  logger: Logger;
  /** Describes the container in messages, such as "task 42". */
  label: string;
  /** The `paths` query parameter: comma-separated directories, or undefined for the defaults. */
  paths: string | undefined;
}

export async function runWatchSession(options: WatchSessionOptions): Promise<void> {
  const { container, socket, logger } = options;
  let closed = socket.readyState !== WebSocket.OPEN;
  const stoppers: Array<() => void> = [];
  socket.on("close", () => {
    closed = true;
    for (const stop of stoppers.splice(0)) stop();
  });
  const send = (frame: WatchServerFrame): void => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  };
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (!canReply(socket)) return;
    let value: unknown = null;
    try {
      value = isBinary ? null : JSON.parse(data.toString("utf8"));
    } catch {
      // Reported below as an invalid frame.
    }
    if (WatchClientFrameSchema.safeParse(value).success) send({ type: "pong" });
    else send({ type: "error", message: 'invalid frame; the only client frame is {"type":"ping"}' });
  });

  const { directories, problems } = await watchableDirectories(container, options.label, options.paths);
  if (closed) return;
  if (directories.length === 0) {
    const reason = `No valid paths to watch: ${problems.join("; ")}`;
    socket.send(watchErrorFrame(reason));
    closeSocket(socket, 1008, "no valid paths to watch");
    return;
  }
  for (const problem of problems) send({ type: "error", message: `not watched: ${problem}` });

  const onChange = (event: FileChangeEvent, path: string, isDir: boolean): void =>
    send({ type: "change", event, path, is_dir: isDir });
  const fail = (message: string): void => {
    if (closed) return;
    logger.warn({ error: message }, "file watch failed");
    send({ type: "error", message });
    closeSocket(socket, 1011, "the watch failed");
  };

  if (await hasInotifywait(container)) {
    if (closed) return;
    const stop = await startInotifyWatch(container, directories, onChange, fail, logger);
    stoppers.push(stop);
    if (closed) stop();
    send({ type: "watching", paths: directories, method: "inotify" });
    logger.info({ paths: directories, method: "inotify" }, "file watch started");
    return;
  }

  const poller = new PollingWatch(container, directories, onChange, (message) => send({ type: "error", message }));
  await poller.snapshot();
  if (closed) return;
  stoppers.push(() => poller.stop());
  send({ type: "watching", paths: directories, method: "polling", interval: WATCH_POLL_INTERVAL_MS / 1000 });
  logger.info({ paths: directories, method: "polling" }, "file watch started");
  poller.start(fail);
}

/** Returns the requested paths that are directories, and why each other one is left out. */
async function watchableDirectories(
  container: Docker.Container,
  label: string,
  paths: string | undefined,
): Promise<{ directories: string[]; problems: string[] }> {
  const requested =
    paths === undefined
      ? [...DEFAULT_WATCH_PATHS]
      : paths
          .split(",")
          .map((path) => path.trim())
          .filter((path) => path !== "");
  const files = new ContainerFiles(container, label);
  const directories: string[] = [];
  const problems: string[] = [];
  for (const path of requested.slice(0, MAX_WATCH_PATHS)) {
    try {
      const real = await files.resolve(normalizeContainerPath(path, "paths"), "paths", true);
      const stat = await statContainerPath(container, real, "paths");
      if (stat === null) problems.push(`${quotePath(path)} not found`);
      else if (stat.type !== "directory") problems.push(`${quotePath(path)} is not a directory`);
      else if (!directories.includes(real)) directories.push(real);
    } catch (error) {
      if (!(error instanceof KohakuRiverError)) throw error;
      problems.push(error.detail.replace(/^paths: /, ""));
    }
  }
  if (requested.length > MAX_WATCH_PATHS) problems.push(`only the first ${MAX_WATCH_PATHS} paths are watched`);
  if (requested.length === 0) problems.push("the paths parameter names no directory");
  return { directories, problems };
}

async function hasInotifywait(container: Docker.Container): Promise<boolean> {
  const result = await runExec(container, ["inotifywait", "--help"], { timeoutMs: 5000, maxOutputBytes: 64 * 1024 });
  return !EXEC_NOT_FOUND_CODES.has(result.exitCode);
}

/** Maps inotifywait's event names (`CREATE,ISDIR`, `MOVED_TO`, …) to the API's events. */
export function inotifyEvent(names: string): { event: FileChangeEvent; isDir: boolean } | null {
  const parts = names.split(",");
  const isDir = parts.includes("ISDIR");
  if (parts.some((name) => name.startsWith("MOVE"))) return { event: "MOVE", isDir };
  if (parts.includes("CREATE")) return { event: "CREATE", isDir };
  if (parts.some((name) => name.startsWith("DELETE"))) return { event: "DELETE", isDir };
  if (parts.includes("MODIFY")) return { event: "MODIFY", isDir };
  return null;
}

/**
 * Runs `inotifywait -m -r` in the container and forwards each event line (`EVENTS|PATH`). Returns a
 * function that ends it: the exec stream is closed and the process is killed by its host process id,
 * because the runner (and the host, for environment containers) runs beside its Engine.
 * NOTE: inotifywait prints one event per line, so the event of a file name with a newline carries a cut
 * path. Polling reports such names whole.
 */
async function startInotifyWatch(
  container: Docker.Container,
  directories: string[],
  onChange: (event: FileChangeEvent, path: string, isDir: boolean) => void,
  fail: (message: string) => void,
  logger: Logger,
): Promise<() => void> {
  const exec = await container.exec({
    Cmd: [
      "inotifywait",
      "-m",
      "-r",
      "-q",
      "-e",
      "create,modify,delete,move",
      "--format",
      "%e|%w%f",
      // Kernel interfaces are left out when / is watched, as the file API leaves them out.
      "--exclude",
      FORBIDDEN_ROOTS_PATTERN,
      "--",
      ...directories,
    ],
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  container.modem.demuxStream(stream, stdout, stderr);
  const pid = await execProcessId(exec);

  let stopped = false;
  let pending = "";
  stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const separator = line.indexOf("|");
      if (separator < 0) continue;
      const mapped = inotifyEvent(line.slice(0, separator));
      if (mapped !== null) onChange(mapped.event, line.slice(separator + 1), mapped.isDir);
    }
  });
  let errorText = "";
  stderr.on("data", (chunk: Buffer) => {
    if (errorText.length < 2000) errorText += chunk.toString("utf8");
  });
  stream.on("close", () => {
    if (!stopped) fail(`inotifywait exited in the container: ${errorText.trim() || "no message"}`);
  });

  return () => {
    if (stopped) return;
    stopped = true;
    stream.destroy();
    try {
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, "SIGKILL");
    } catch (error) {
      logger.debug({ pid, error: String(error) }, "inotifywait had already exited");
    }
  };
}

export interface PolledEntry {
  /** Modification and status-change times (whole seconds), size and inode, compared between polls. */
  signature: string;
  inode: string;
  isDir: boolean;
}

/**
 * Polls the directories with `find -print0` for names and `stat` for their state.
 * NOTE: `stat` gives whole seconds, so a rewrite within the same second that keeps the size and inode
 * is not reported. Writes through the file API replace the inode, so they are always seen.
 */
class PollingWatch {
  private entries = new Map<string, PolledEntry>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private warnedTooMany = false;

  constructor(
    private readonly container: Docker.Container,
    private readonly directories: string[],
    private readonly onChange: (event: FileChangeEvent, path: string, isDir: boolean) => void,
    private readonly warn: (message: string) => void,
  ) {}

  async snapshot(): Promise<void> {
    this.entries = await this.scan();
  }

  start(fail: (message: string) => void): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        const current = await this.scan();
        if (this.stopped) return;
        this.report(this.entries, current);
        this.entries = current;
      } catch (error) {
        fail(`polling failed: ${error instanceof Error ? error.message : String(error)}`);
        this.stop();
        return;
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), WATCH_POLL_INTERVAL_MS);
    };
    this.timer = setTimeout(() => void tick(), WATCH_POLL_INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private async scan(): Promise<Map<string, PolledEntry>> {
    const found = await runExec(
      this.container,
      [
        "find",
        ...this.directories,
        "-mindepth",
        "1",
        "-maxdepth",
        String(WATCH_POLL_DEPTH),
        ...FORBIDDEN_ROOTS.flatMap((root, index) => [...(index === 0 ? ["("] : ["-o"]), "-path", root]),
        ")",
        "-prune",
        "-o",
        "-print0",
      ],
      { timeoutMs: EXEC_TIMEOUT_MS },
    );
    if (EXEC_NOT_FOUND_CODES.has(found.exitCode) && found.stdout.length === 0) {
      throw new Error("the image has neither inotifywait nor find, so changes cannot be watched");
    }
    // find exits non-zero when an entry vanishes while it walks; what it printed is still valid.
    let names = found.stdout
      .toString("utf8")
      .split("\0")
      .filter((name) => name !== "");
    if (names.length > WATCH_POLL_MAX_ENTRIES) {
      names = names.slice(0, WATCH_POLL_MAX_ENTRIES);
      if (!this.warnedTooMany) {
        this.warnedTooMany = true;
        this.warn(`more than ${WATCH_POLL_MAX_ENTRIES} entries under the watched paths; only the first are compared`);
      }
    }

    const entries = new Map<string, PolledEntry>();
    for (const batch of batchByBytes(names, STAT_BATCH_BYTES)) {
      const result = await runExec(this.container, ["stat", "-c", "%Y %Z %s %i %f %n", "--", ...batch], {
        timeoutMs: EXEC_TIMEOUT_MS,
      });
      if (EXEC_NOT_FOUND_CODES.has(result.exitCode) && result.stdout.length === 0) {
        throw new Error("the image has no stat program, which polling needs");
      }
      parseStatRecords(result.stdout.toString("utf8"), batch, entries);
    }
    return entries;
  }

  private report(before: Map<string, PolledEntry>, after: Map<string, PolledEntry>): void {
    const created = [...after.keys()].filter((path) => !before.has(path));
    const deleted = [...before.keys()].filter((path) => !after.has(path));
    // A path that vanished and one that appeared with the same inode were moved.
    const createdByInode = new Map(created.map((path) => [(after.get(path) as PolledEntry).inode, path]));
    const moved = new Set<string>();
    for (const path of deleted) {
      const state = before.get(path) as PolledEntry;
      const destination = createdByInode.get(state.inode);
      if (destination !== undefined && !moved.has(destination)) {
        moved.add(destination);
        moved.add(path);
        this.onChange("MOVE", path, state.isDir);
        this.onChange("MOVE", destination, state.isDir);
      }
    }
    for (const path of deleted) {
      if (!moved.has(path)) this.onChange("DELETE", path, (before.get(path) as PolledEntry).isDir);
    }
    for (const path of created) {
      if (!moved.has(path)) this.onChange("CREATE", path, (after.get(path) as PolledEntry).isDir);
    }
    // A directory's own times change with its entries, which are reported above.
    for (const [path, state] of after) {
      const previous = before.get(path);
      if (previous !== undefined && !state.isDir && previous.signature !== state.signature) {
        this.onChange("MODIFY", path, false);
      }
    }
  }
}

const STAT_RECORD_PREFIX = /(\d+) (\d+) (\d+) (\d+) ([0-9a-fA-F]+) /y;
/** The file type bits of a raw mode, and the value for a directory (from <sys/stat.h>). */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/**
 * Parses `stat -c '%Y %Z %s %i %f %n'` output for `names`, given in that order. Each record ends with the
 * name and a newline; because the names are known, a name that itself contains a newline is read whole.
 * A name with no record (removed before stat ran) is skipped.
 */
export function parseStatRecords(output: string, names: readonly string[], into: Map<string, PolledEntry>): void {
  let offset = 0;
  for (const name of names) {
    STAT_RECORD_PREFIX.lastIndex = offset;
    const match = STAT_RECORD_PREFIX.exec(output);
    if (match === null) continue;
    const nameStart = offset + match[0].length;
    if (!output.startsWith(`${name}\n`, nameStart)) continue;
    offset = nameStart + name.length + 1;
    const [, mtime, ctime, size, inode, rawMode] = match;
    into.set(name, {
      signature: `${mtime} ${ctime} ${size} ${inode}`,
      inode: inode as string,
      isDir: (Number.parseInt(rawMode as string, 16) & S_IFMT) === S_IFDIR,
    });
  }
}

function batchByBytes(names: readonly string[], maxBytes: number): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const name of names) {
    const bytes = Buffer.byteLength(name) + 1;
    if (current.length > 0 && size + bytes > maxBytes) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
