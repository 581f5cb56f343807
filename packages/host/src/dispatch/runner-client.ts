/** Calls from the host to a runner's API, always with the cluster token. */

import { clusterRequest, describeNetworkError, type ClusterResponse } from "@kohakuriver/common";

export class RunnerUnreachableError extends Error {
  override name = "RunnerUnreachableError";
  constructor(
    readonly hostname: string,
    reason: string,
  ) {
    super(`runner ${hostname} is unreachable: ${reason}`);
  }
}

export interface RunnerEndpoint {
  hostname: string;
  url: string;
}

export class RunnerClient {
  constructor(private readonly clusterToken: string) {}

  /** Sends a request; throws RunnerUnreachableError on network errors and timeouts, returns any HTTP status. */
  async call(
    runner: RunnerEndpoint,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 10_000,
  ): Promise<ClusterResponse> {
    try {
      return await clusterRequest(method, `${runner.url.replace(/\/+$/, "")}${path}`, body, {
        token: this.clusterToken,
        timeoutMs,
      });
    } catch (error) {
      throw new RunnerUnreachableError(runner.hostname, describeNetworkError(error));
    }
  }
}

/** Extracts `detail` (or `message`) from a runner's JSON error body for messages. */
export function responseDetail(response: ClusterResponse): string {
  const body = response.body as { detail?: unknown; message?: unknown } | string | null;
  if (typeof body === "string") return body.slice(0, 500);
  if (body !== null && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    if (typeof body.message === "string") return body.message;
  }
  return `HTTP ${response.status}`;
}
