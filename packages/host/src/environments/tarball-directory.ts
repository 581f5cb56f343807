/**
 * The directory of environment tarballs (`{CONTAINER_DIR}/{env}-{unix_ts}.tar`): listing, choosing the
 * newest version, writing a new one atomically, pruning and deleting.
 */

import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { parseTarballFileName, tarballFileName } from "@kohakuriver/api";

export interface TarballVersion {
  environment: string;
  timestamp: number;
  fileName: string;
  path: string;
  sizeBytes: number;
}

/** Suffix of files being written; listings skip them, so a reader never sees half a tarball. */
const PARTIAL_SUFFIX = ".partial";

export class TarballDirectory {
  constructor(readonly directory: string) {}

  async ensureExists(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
  }

  /** Returns every complete tarball, grouped by environment (lower-case), newest first. */
  async list(): Promise<Map<string, TarballVersion[]>> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw error;
    }

    const groups = new Map<string, TarballVersion[]>();
    for (const fileName of names) {
      const parsed = parseTarballFileName(fileName);
      if (parsed === null) continue;
      const path = join(this.directory, fileName);
      const info = await stat(path).catch(() => null);
      if (info === null || !info.isFile()) continue;
      const environment = parsed.environment.toLowerCase();
      const versions = groups.get(environment) ?? [];
      versions.push({ environment, timestamp: parsed.timestamp, fileName, path, sizeBytes: info.size });
      groups.set(environment, versions);
    }
    for (const versions of groups.values()) versions.sort((a, b) => b.timestamp - a.timestamp);
    return groups;
  }

  async versions(environment: string): Promise<TarballVersion[]> {
    return (await this.list()).get(environment.toLowerCase()) ?? [];
  }

  /**
   * Finds the file GET /api/docker/container/{name} serves: `{name}.tar` when it exists (the original's
   * unversioned name, and `{env}-{ts}` for one exact version), else the newest version of environment `name`.
   */
  async resolve(name: string): Promise<TarballVersion | null> {
    const exact = parseTarballFileName(`${name}.tar`);
    const exactPath = join(this.directory, `${name}.tar`);
    const exactInfo = await stat(exactPath).catch(() => null);
    if (exactInfo?.isFile() === true) {
      return {
        environment: (exact?.environment ?? name).toLowerCase(),
        timestamp: exact?.timestamp ?? Math.floor(exactInfo.mtimeMs / 1000),
        fileName: `${name}.tar`,
        path: exactPath,
        sizeBytes: exactInfo.size,
      };
    }
    return (await this.versions(name))[0] ?? null;
  }

  /**
   * Returns a timestamp for a new version: now in Unix seconds, or one past the newest existing version when
   * that is not earlier, so every publication is strictly newer than the one before.
   */
  async nextTimestamp(environment: string, nowMs = Date.now()): Promise<number> {
    const newest = (await this.versions(environment))[0]?.timestamp ?? 0;
    return Math.max(Math.floor(nowMs / 1000), newest + 1);
  }

  /**
   * Writes `source` to `{env}-{timestamp}.tar` through a temporary name, flushes it to disk and renames it
   * when complete. On failure the temporary file is removed and no tarball appears.
   */
  async write(environment: string, timestamp: number, source: Readable): Promise<TarballVersion> {
    // An error before the pipeline below is attached would otherwise be uncaught. The pipeline still
    // rejects then, because it rejects for a stream that was already destroyed.
    source.on("error", () => undefined);
    await this.ensureExists();
    const fileName = tarballFileName(environment, timestamp);
    const path = join(this.directory, fileName);
    const temporary = join(this.directory, `.${fileName}.${randomBytes(4).toString("hex")}${PARTIAL_SUFFIX}`);
    try {
      await pipeline(source, createWriteStream(temporary, { flags: "wx" }));
      const handle = await open(temporary, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    const info = await stat(path);
    return { environment: environment.toLowerCase(), timestamp, fileName, path, sizeBytes: info.size };
  }

  /** Deletes all but the newest `keep` versions of an environment; returns the deleted file names. */
  async prune(environment: string, keep: number): Promise<string[]> {
    const stale = (await this.versions(environment)).slice(keep);
    for (const version of stale) await rm(version.path, { force: true });
    return stale.map((version) => version.fileName);
  }

  /** Deletes every version of an environment and its unversioned `{env}.tar`; returns the deleted file names. */
  async deleteAll(environment: string): Promise<string[]> {
    const deleted = (await this.versions(environment)).map((version) => version.fileName);
    for (const fileName of deleted) await rm(join(this.directory, fileName), { force: true });

    const unversioned = join(this.directory, `${environment}.tar`);
    if ((await stat(unversioned).catch(() => null))?.isFile() === true) {
      await rm(unversioned, { force: true });
      deleted.push(`${environment}.tar`);
    }
    return deleted;
  }
}
