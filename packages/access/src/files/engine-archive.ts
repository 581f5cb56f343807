/**
 * The Engine's archive API on one container: `HEAD` for a path's lstat, `GET` for a tar of a path (read
 * here one entry at a time), `PUT` to extract a tar into a directory. These work with any image, because
 * nothing runs inside the container, and paths are resolved by the Engine inside the container's root.
 */

import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from "@kohakuriver/api";
import type Docker from "dockerode";
import type { Readable } from "node:stream";
import tar from "tar-stream";

import { decodePathStatHeader, type PathStat } from "./path-stat.js";
import { quotePath } from "./paths.js";

/** Header of the archive HEAD response that carries the path's stat. */
const PATH_STAT_HEADER = "x-docker-container-path-stat";

export interface ArchiveEntry {
  header: tar.Header;
  /** The entry's first bytes, at most the requested number. */
  content: Buffer;
}

interface EngineError {
  statusCode?: number;
  json?: { message?: string } | null;
  message?: string;
}

/** Returns the lstat of `path` (symlinks before the last segment followed by the Engine), or null if it does not exist. */
export async function statContainerPath(
  container: Docker.Container,
  path: string,
  field: string,
): Promise<PathStat | null> {
  let response: Readable & { headers?: Record<string, string | string[] | undefined> };
  try {
    response = (await container.infoArchive({ path })) as typeof response;
  } catch (error) {
    if ((error as EngineError).statusCode === 404) return null;
    throw engineError(error, path, field);
  }
  response.resume();
  const header = response.headers?.[PATH_STAT_HEADER];
  if (typeof header !== "string") throw new Error(`the Engine sent no ${PATH_STAT_HEADER} header for ${path}`);
  return decodePathStatHeader(header);
}

/**
 * Reads the first entry of the Engine's tar of `path`: its header and up to `maxBytes` of its content. The
 * download stops there, so asking for the header of a large directory does not transfer the directory.
 */
export async function readFirstArchiveEntry(
  container: Docker.Container,
  path: string,
  maxBytes: number,
  field: string,
): Promise<ArchiveEntry> {
  let response: Readable;
  try {
    response = (await container.getArchive({ path })) as unknown as Readable;
  } catch (error) {
    throw engineError(error, path, field);
  }
  const extract = tar.extract();
  return new Promise<ArchiveEntry>((resolve, reject) => {
    let settled = false;
    const finish = (entry: ArchiveEntry | null, error?: unknown): void => {
      if (settled) return;
      settled = true;
      response.unpipe(extract);
      response.destroy();
      extract.destroy();
      if (entry === null) reject(error);
      else resolve(entry);
    };
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const complete = (): void => finish({ header, content: Buffer.concat(chunks, size) });
      if (maxBytes === 0) return complete();
      stream.on("data", (chunk: unknown) => {
        if (!Buffer.isBuffer(chunk)) return;
        const room = maxBytes - size;
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(kept);
        size += kept.length;
        if (size >= maxBytes) complete();
      });
      stream.on("end", () => {
        complete();
        next();
      });
      stream.on("error", (error: Error) => finish(null, error));
    });
    extract.on("error", (error: Error) => finish(null, error));
    extract.on("finish", () => finish(null, new Error(`the Engine sent an empty archive for ${path}`)));
    response.on("error", (error) => finish(null, error));
    response.pipe(extract);
  });
}

/** Extracts a tar archive into `directory`; never replaces a directory with a file or the reverse. */
export async function putArchive(
  container: Docker.Container,
  directory: string,
  archive: tar.Pack,
  field: string,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  try {
    await container.putArchive(Buffer.concat(chunks), { path: directory, noOverwriteDirNonDir: true });
  } catch (error) {
    throw engineError(error, directory, field);
  }
}

/** Maps an Engine error about `path` to the API's errors; other failures are returned unchanged. */
export function engineError(error: unknown, path: string, field: string): unknown {
  const engine = error as EngineError;
  const message = engine.json?.message ?? engine.message ?? String(error);
  switch (engine.statusCode) {
    case 400:
      return new InvalidInputError(`${field}: ${quotePath(path)} cannot be used: ${message}`, field);
    case 403:
      return new ForbiddenError(`${field}: ${quotePath(path)} cannot be written: ${message}`);
    case 404:
      return new NotFoundError(`${field}: ${quotePath(path)} not found (${message})`);
    case 409:
      return new ConflictError(`the container cannot be accessed now: ${message}`);
    default:
      return error;
  }
}
