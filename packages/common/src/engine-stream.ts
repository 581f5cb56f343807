/** Reads the newline-delimited JSON progress streams of the Docker Engine's pull and load endpoints. */

export type EngineEvent = Record<string, unknown>;

/**
 * Calls `onEvent` for each JSON line and resolves when the stream ends. The engine reports a failure in
 * the middle of a pull or load as an `error` line with HTTP 200, so that line's message is returned as
 * `error` (null when there was none). A stream that breaks off also counts as an error.
 */
export function readEngineJsonStream(
  stream: NodeJS.ReadableStream,
  onEvent: (event: EngineEvent) => void,
): Promise<{ error: string | null }> {
  return new Promise((resolve) => {
    let buffer = "";
    let error: string | null = null;
    const handleLine = (line: string) => {
      if (line.trim() === "") return;
      let event: EngineEvent;
      try {
        event = JSON.parse(line) as EngineEvent;
      } catch {
        return;
      }
      if (typeof event.error === "string") {
        const detail = event.errorDetail as { message?: string } | undefined;
        error ??= detail?.message ?? event.error;
        return;
      }
      onEvent(event);
    };

    stream.on("data", (chunk: Buffer | string) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        handleLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
      }
    });
    stream.on("end", () => {
      handleLine(buffer);
      resolve({ error });
    });
    stream.on("error", (streamError: Error) => resolve({ error: error ?? streamError.message }));
  });
}

export interface PullProgress {
  /** Docker's latest status line, such as "Downloading". */
  status: string;
  downloadedBytes: number;
  totalBytes: number;
}

/**
 * Returns a function that turns each pull event into the bytes downloaded so far over all layers, from
 * the per-layer `progressDetail` that the engine reports.
 */
export function pullProgressTracker(): (event: EngineEvent) => PullProgress {
  const layers = new Map<string, { current: number; total: number }>();
  return (event) => {
    const detail = event.progressDetail as { current?: number; total?: number } | undefined;
    if (typeof event.id === "string" && detail?.total !== undefined) {
      layers.set(event.id, { current: detail.current ?? 0, total: detail.total });
    }
    let downloadedBytes = 0;
    let totalBytes = 0;
    for (const layer of layers.values()) {
      downloadedBytes += layer.current;
      totalBytes += layer.total;
    }
    return { status: typeof event.status === "string" ? event.status : "", downloadedBytes, totalBytes };
  };
}

/** A failed image pull, with the Docker Engine's reason. */
export class ImagePullError extends Error {
  override name = "ImagePullError";
  constructor(
    readonly image: string,
    readonly reason: string,
  ) {
    super(`failed to pull image ${image}: ${reason}`);
  }
}
