/** Pulls an image through the Engine API; a failed pull rejects with Docker's reason. */

import { ImagePullError, pullProgressTracker, readEngineJsonStream, type PullProgress } from "@kohakuriver/common";
import type Docker from "dockerode";

export { ImagePullError };

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

  const track = pullProgressTracker();
  const { error } = await readEngineJsonStream(stream, (event) => onProgress?.(track(event)));
  if (error !== null) throw new ImagePullError(image, error);
}

/** Returns the engine's message without dockerode's "(HTTP code 500) server error - " prefix. */
export function engineReason(error: unknown): string {
  const failure = error as { json?: { message?: string } | null; message?: string } | null;
  const fromJson = failure?.json?.message;
  if (typeof fromJson === "string" && fromJson !== "") return fromJson.trim();
  return String(failure?.message ?? error)
    .replace(/^\(HTTP code \d+\) [^-]*- /, "")
    .trim();
}
