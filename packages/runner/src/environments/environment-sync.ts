/**
 * Brings an environment's image (`kohakuriver/{env}:base`) up to date before a task starts: it loads the
 * newest tarball when that is newer than the local image, streaming the file into the Docker Engine.
 * Concurrent requests for one environment share a single sync; different environments sync in parallel.
 */

import { createReadStream } from "node:fs";
import { join } from "node:path";

import { LABEL_ENVIRONMENT_TIMESTAMP, TARBALL_DIRECTORY, environmentImageTag, formatBytes } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";

import type { RunnerConfig } from "../config.js";
import { ImageLoadError, type ImageInfo, type WorkloadDriver } from "../driver/types.js";
import { downloadTarball, removeDownload } from "./tarball-download.js";
import {
  TarballLookupError,
  directoryExists,
  newestInDirectory,
  newestOnHost,
  type TarballVersion,
} from "./tarball-source.js";

export interface EnvironmentSyncOptions {
  config: RunnerConfig;
  driver: WorkloadDriver;
  hostUrl: string;
  clusterToken: string;
  logger: Logger;
}

export interface SyncResult {
  loaded: boolean;
  /** Tarball source: its path on shared storage, or the host's download URL. */
  source: string | null;
  /** Timestamp of the newest tarball, or null when the environment has none. */
  timestamp: number | null;
}

/** A failed sync. The message names the environment and the tarball, and what to do next. */
export class EnvironmentSyncError extends Error {
  override name = "EnvironmentSyncError";
}

type ProgressListener = (message: string) => void;

/** Read size when streaming a tarball into the engine (4 MiB). */
const LOAD_CHUNK_BYTES = 4 * 1024 * 1024;

/** Minimum milliseconds between two progress messages of one sync. */
const PROGRESS_INTERVAL_MS = 1000;

export class EnvironmentSync {
  private readonly inFlight = new Map<string, { result: Promise<SyncResult>; listeners: Set<ProgressListener> }>();
  /** Number of tarballs loaded into the engine since the runner started. */
  loadCount = 0;

  constructor(private readonly options: EnvironmentSyncOptions) {}

  /** The shared tarball directory: CONTAINER_TAR_DIR, or kohakuriver-containers under SHARED_DIR. */
  get sharedDirectory(): string {
    const { config } = this.options;
    return config.CONTAINER_TAR_DIR !== "" ? config.CONTAINER_TAR_DIR : join(config.SHARED_DIR, TARBALL_DIRECTORY);
  }

  /** Makes sure the environment's image is the newest published version, or joins a sync already running. */
  ensure(environment: string, onProgress?: ProgressListener): Promise<SyncResult> {
    const key = environment.toLowerCase();
    const running = this.inFlight.get(key);
    if (running !== undefined) {
      if (onProgress !== undefined) running.listeners.add(onProgress);
      return running.result;
    }

    const listeners = new Set<ProgressListener>(onProgress === undefined ? [] : [onProgress]);
    const result = this.sync(key, (message) => {
      for (const listener of listeners) listener(message);
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, { result, listeners });
    return result;
  }

  private async sync(environment: string, progress: ProgressListener): Promise<SyncResult> {
    const { driver, logger } = this.options;
    const tag = environmentImageTag(environment);
    const local = await driver.inspectImage(tag);
    const shared = await directoryExists(this.sharedDirectory);
    let newest: TarballVersion | null;
    try {
      newest = shared
        ? await newestInDirectory(this.sharedDirectory, environment)
        : await newestOnHost(this.options.hostUrl, this.options.clusterToken, environment);
    } catch (error) {
      if (!(error instanceof TarballLookupError)) throw error;
      if (local === null) throw new EnvironmentSyncError(`environment ${environment}: ${error.message}`);
      logger.warn({ environment, reason: error.message }, "cannot look up tarballs; using the local image");
      return { loaded: false, source: null, timestamp: null };
    }
    if (newest === null) return { loaded: false, source: null, timestamp: null };

    const localTimestamp = local === null ? null : imageTimestamp(local);
    if (localTimestamp !== null && localTimestamp >= newest.timestamp) {
      logger.debug({ environment, image: tag, tarball: newest.fileName }, "environment image is up to date");
      return { loaded: false, source: null, timestamp: newest.timestamp };
    }

    const started = Date.now();
    const path = shared ? (newest.sharedPath as string) : await this.download(newest, progress);
    try {
      await this.load(newest, path, progress);
    } finally {
      if (!shared) await removeDownload(this.downloadDirectory(), newest.fileName);
    }
    if ((await driver.inspectImage(tag)) === null) {
      throw new EnvironmentSyncError(
        `tarball ${path} was loaded but contains no image ${tag}; publish it again with: kohakuriver docker tar create ${environment}`,
      );
    }

    this.loadCount += 1;
    const source = shared
      ? path
      : `${this.options.hostUrl}/api/docker/container/${newest.fileName.replace(/\.tar$/, "")}`;
    logger.info(
      { environment, tarball: source, timestamp: newest.timestamp, durationMs: Date.now() - started },
      "environment image loaded",
    );
    return { loaded: true, source, timestamp: newest.timestamp };
  }

  private downloadDirectory(): string {
    return join(this.options.config.RUNNER_STATE_DIR, "tarballs");
  }

  private async download(version: TarballVersion, progress: ProgressListener): Promise<string> {
    const report = throttled(progress);
    try {
      return await downloadTarball({
        hostUrl: this.options.hostUrl,
        clusterToken: this.options.clusterToken,
        fileName: version.fileName,
        directory: this.downloadDirectory(),
        logger: this.options.logger,
        onProgress: (received, total) =>
          report(`Downloading environment ${version.environment} from the host: ${describeProgress(received, total)}`),
      });
    } catch (error) {
      throw new EnvironmentSyncError(`environment ${version.environment}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Streams the file into the engine; a failed load leaves the previous image and its tag in place. */
  private async load(version: TarballVersion, path: string, progress: ProgressListener): Promise<void> {
    const report = throttled(progress);
    const total = version.sizeBytes;
    report(`Loading environment ${version.environment} from ${version.fileName}: ${describeProgress(0, total)}`);

    // Large reads keep the per-chunk cost of streaming through Node.js small next to the engine's import,
    // and progress is sampled from the stream's byte count instead of counted per chunk.
    const file = createReadStream(path, { highWaterMark: LOAD_CHUNK_BYTES });
    const timer = setInterval(
      () =>
        report(
          `Loading environment ${version.environment} from ${version.fileName}: ${describeProgress(file.bytesRead, total)}`,
        ),
      PROGRESS_INTERVAL_MS,
    );
    const timeoutSeconds = this.options.config.DOCKER_IMAGE_SYNC_TIMEOUT;
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timeout = setTimeout(() => {
        file.destroy();
        reject(
          new EnvironmentSyncError(
            `loading tarball ${path} of environment ${version.environment} timed out after ${timeoutSeconds} s; ` +
              "raise DOCKER_IMAGE_SYNC_TIMEOUT in runner.toml for large environments or slow disks",
          ),
        );
      }, timeoutSeconds * 1000);
    });
    try {
      // NOTE: after a timeout the engine may still finish importing what it received in the background.
      await Promise.race([this.options.driver.loadImage(file), timedOut]);
    } catch (error) {
      if (error instanceof ImageLoadError) {
        throw new EnvironmentSyncError(
          `tarball ${path} of environment ${version.environment} could not be loaded, it may be truncated or ` +
            `corrupt (${error.reason}). The previous image, if any, is unchanged; publish the environment again ` +
            `with: kohakuriver docker tar create ${version.environment}`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      clearInterval(timer);
      clearTimeout(timeout);
    }
  }
}

/**
 * Returns the image's version as Unix seconds: the tarball timestamp labelled on it at publishing. Images
 * published by the original have no such label, so their creation time is used. That time is later than
 * their tarball's timestamp, because the original takes the timestamp before committing.
 */
export function imageTimestamp(image: ImageInfo): number | null {
  const label = Number(image.labels[LABEL_ENVIRONMENT_TIMESTAMP]);
  if (Number.isInteger(label) && label > 0) return label;
  const created = Date.parse(image.created);
  return Number.isNaN(created) ? null : Math.floor(created / 1000);
}

function describeProgress(done: number, total: number | null): string {
  if (total === null || total === 0) return formatBytes(done);
  return `${Math.floor((done / total) * 100)}% of ${formatBytes(total)}`;
}

/** Wraps a listener so that it gets at most one message per PROGRESS_INTERVAL_MS, plus the first. */
function throttled(listener: ProgressListener): ProgressListener {
  let last = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    listener(message);
  };
}
