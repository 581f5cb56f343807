/**
 * Downloads a tarball from the host into a local file, resuming with an HTTP Range request after an
 * interrupted transfer. The file is written as `{name}.partial` and renamed once complete, so a file
 * without that suffix is always whole.
 */

import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

import { backoffDelayMs, describeNetworkError, sleep, type Logger } from "@kohakuriver/common";

export interface DownloadOptions {
  /** Base URL of the host, for example http://10.0.0.1:8000. */
  hostUrl: string;
  clusterToken: string;
  /** Tarball file name on the host, `{env}-{ts}.tar`; the exact version is requested. */
  fileName: string;
  directory: string;
  /** Attempts in total, each resuming where the previous one stopped (default 6). */
  maxAttempts?: number;
  /** Seconds without any data before an attempt is given up (default 60). */
  idleTimeoutSeconds?: number;
  onProgress?: (receivedBytes: number, totalBytes: number | null) => void;
  logger?: Logger;
}

export class DownloadError extends Error {
  override name = "DownloadError";
}

/** Downloads the file (or finishes a partial download) and returns the path of the complete file. */
export async function downloadTarball(options: DownloadOptions): Promise<string> {
  const { directory, fileName, logger } = options;
  await mkdir(directory, { recursive: true });
  const finalPath = join(directory, fileName);
  const partialPath = `${finalPath}.partial`;
  if ((await stat(finalPath).catch(() => null))?.isFile() === true) return finalPath;

  const maxAttempts = options.maxAttempts ?? 6;
  let lastError = "";
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    if (attempt > 0) await sleep(backoffDelayMs(attempt - 1, 500, 10_000));
    const offset = (await stat(partialPath).catch(() => null))?.size ?? 0;
    try {
      const total = await fetchInto(partialPath, offset, options);
      const size = (await stat(partialPath)).size;
      if (total !== null && size !== total) {
        lastError = `received ${size} of ${total} bytes`;
        logger?.warn({ file: fileName, size, total, attempt }, "tarball download interrupted; resuming");
        continue;
      }
      await rename(partialPath, finalPath);
      return finalPath;
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      lastError = describeNetworkError(error);
      logger?.warn({ file: fileName, reason: lastError, attempt }, "tarball download failed; resuming");
    }
  }
  throw new DownloadError(
    `failed to download ${fileName} from ${options.hostUrl} after ${maxAttempts} attempts: ${lastError}`,
  );
}

/** Removes a downloaded tarball and its partial file. */
export async function removeDownload(directory: string, fileName: string): Promise<void> {
  await rm(join(directory, fileName), { force: true });
  await rm(join(directory, `${fileName}.partial`), { force: true });
}

/**
 * Runs one HTTP request and appends the body to the partial file. Returns the complete file's size when
 * the response states it. A 200 response to a Range request restarts the file from the beginning.
 */
async function fetchInto(path: string, offset: number, options: DownloadOptions): Promise<number | null> {
  const name = options.fileName.replace(/\.tar$/, "");
  const url = `${options.hostUrl}/api/docker/container/${encodeURIComponent(name)}`;
  const headers: Record<string, string> = { authorization: `Bearer ${options.clusterToken}` };
  if (offset > 0) headers.range = `bytes=${offset}-`;

  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = httpRequest(url, { method: "GET", headers });
    request.setTimeout((options.idleTimeoutSeconds ?? 60) * 1000, () =>
      request.destroy(new Error(`no data from ${url} for ${options.idleTimeoutSeconds ?? 60} s`)),
    );
    request.on("response", resolve);
    request.on("error", reject);
    request.end();
  });

  if (response.statusCode === 404) {
    response.resume();
    throw new DownloadError(`the host has no tarball ${options.fileName} (it may have been replaced or deleted)`);
  }
  if (response.statusCode === 416) {
    // The partial file is longer than the tarball, so it belongs to another file: the next attempt starts over.
    response.resume();
    await rm(path, { force: true });
    throw new Error("the partial file is longer than the tarball; starting over");
  }
  if (response.statusCode !== 200 && response.statusCode !== 206) {
    response.resume();
    throw new DownloadError(`the host responded with HTTP ${response.statusCode ?? 0} to ${url}`);
  }

  const resumed = response.statusCode === 206;
  const start = resumed ? offset : 0;
  const total = resumed
    ? Number(/\/(\d+)$/.exec(String(response.headers["content-range"] ?? ""))?.[1] ?? Number.NaN)
    : Number(response.headers["content-length"] ?? Number.NaN);
  let received = start;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      options.onProgress?.(received, Number.isFinite(total) ? total : null);
      callback(null, chunk);
    },
  });
  // An aborted response ends early without an error on some Node.js versions, so the size is checked by the caller.
  await pipeline(response, counter, createWriteStream(path, { flags: resumed ? "a" : "w" }));
  return Number.isFinite(total) ? total : null;
}
