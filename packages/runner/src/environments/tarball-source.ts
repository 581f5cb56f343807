/**
 * Lookup of environment tarballs for a runner: in the shared tarball directory when this node mounts it,
 * else on the host, which serves the same files over HTTP (GET /api/docker/list and /api/docker/container/{name}).
 */

import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

import { TarballListSchema, parseTarballFileName } from "@kohakuriver/api";
import { clusterRequest, describeNetworkError } from "@kohakuriver/common";

export interface TarballVersion {
  environment: string;
  timestamp: number;
  fileName: string;
  /** Size in bytes when known before the download. */
  sizeBytes: number | null;
  /** Path in the shared directory, or null for a tarball that must be downloaded from the host. */
  sharedPath: string | null;
}

export class TarballLookupError extends Error {
  override name = "TarballLookupError";
}

/** Returns the newest tarball of an environment in a directory, or null when it has none. */
export async function newestInDirectory(directory: string, environment: string): Promise<TarballVersion | null> {
  const expected = environment.toLowerCase();
  let newest: TarballVersion | null = null;
  for (const fileName of await readdir(directory)) {
    const parsed = parseTarballFileName(fileName);
    if (parsed === null || parsed.environment.toLowerCase() !== expected) continue;
    if (newest !== null && parsed.timestamp <= newest.timestamp) continue;
    const info = await stat(join(directory, fileName)).catch(() => null);
    if (info === null || !info.isFile()) continue;
    newest = {
      environment: expected,
      timestamp: parsed.timestamp,
      fileName,
      sizeBytes: info.size,
      sharedPath: join(directory, fileName),
    };
  }
  return newest;
}

/** Returns true when the directory exists, so tarballs are read from shared storage. */
export async function directoryExists(directory: string): Promise<boolean> {
  const info = await stat(directory).catch(() => null);
  return info?.isDirectory() === true;
}

/** Asks the host for the newest tarball of an environment; null when the host has none. */
export async function newestOnHost(
  hostUrl: string,
  clusterToken: string,
  environment: string,
): Promise<TarballVersion | null> {
  let response;
  try {
    response = await clusterRequest("GET", `${hostUrl}/api/docker/list`, undefined, {
      token: clusterToken,
      timeoutMs: 15_000,
    });
  } catch (error) {
    throw new TarballLookupError(
      `cannot reach the host at ${hostUrl} to list tarballs: ${describeNetworkError(error)}`,
    );
  }
  if (response.status !== 200) {
    throw new TarballLookupError(`the host responded with HTTP ${response.status} to the tarball list request`);
  }
  const parsed = TarballListSchema.safeParse(response.body);
  if (!parsed.success) throw new TarballLookupError("the host sent an invalid tarball list");

  const entry = parsed.data[environment.toLowerCase()];
  const newest = entry?.all_versions[0];
  if (entry === undefined || newest === undefined) return null;
  const fileName = newest.tarball.split("/").pop() ?? `${environment.toLowerCase()}-${newest.timestamp}.tar`;
  return {
    environment: environment.toLowerCase(),
    timestamp: newest.timestamp,
    fileName,
    sizeBytes: newest.size_bytes,
    sharedPath: null,
  };
}
