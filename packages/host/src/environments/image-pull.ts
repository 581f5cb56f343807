/** Pulls an image through the Engine API and reports progress; a failed pull rejects with Docker's reason. */

import type Docker from "dockerode";

export interface PullProgress {
  /** Docker's status line, such as "Downloading" or "Pull complete". */
  status: string;
  /** Bytes downloaded so far over all layers, when Docker reports them. */
  downloadedBytes: number;
  totalBytes: number;
}

interface PullEvent {
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  progressDetail?: { current?: number; total?: number };
}

export class ImagePullError extends Error {
  override name = "ImagePullError";
  constructor(
    readonly image: string,
    readonly reason: string,
  ) {
    super(`failed to pull image ${image}: ${reason}`);
  }
}

export async function pullImage(
  docker: Docker,
  image: string,
  onProgress?: (progress: PullProgress) => void,
): Promise<void> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(image);
  } catch (error) {
    throw new ImagePullError(image, engineReason(error));
  }

  const layers = new Map<string, { current: number; total: number }>();
  // The engine reports a failure in the middle of a pull as an `error` line in the stream, not as an
  // HTTP status, and docker-modem passes such lines on as progress.
  let streamError: string | null = null;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        if (error !== null) reject(new ImagePullError(image, error.message));
        else if (streamError !== null) reject(new ImagePullError(image, streamError));
        else resolve();
      },
      (event: PullEvent) => {
        if (event.error !== undefined) {
          streamError = event.errorDetail?.message ?? event.error;
          return;
        }
        if (event.id !== undefined && event.progressDetail?.total !== undefined) {
          layers.set(event.id, { current: event.progressDetail.current ?? 0, total: event.progressDetail.total });
        }
        let downloadedBytes = 0;
        let totalBytes = 0;
        for (const layer of layers.values()) {
          downloadedBytes += layer.current;
          totalBytes += layer.total;
        }
        onProgress?.({ status: event.status ?? "", downloadedBytes, totalBytes });
      },
    );
  });
}

/** Returns the engine's message without dockerode's "(HTTP code 500) server error -" prefix. */
export function engineReason(error: unknown): string {
  const failure = error as { json?: { message?: string } | null; message?: string } | null;
  const fromJson = failure?.json?.message;
  if (typeof fromJson === "string" && fromJson !== "") return fromJson.trim();
  return String(failure?.message ?? error).trim();
}
