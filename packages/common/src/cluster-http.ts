import { Agent, request as httpRequest } from "node:http";

/**
 * JSON over HTTP between the host and its runners, always carrying the cluster token.
 * Returns the status and parsed body instead of throwing on HTTP errors, because callers (dispatch and
 * report loops) treat each status differently. Network failures and timeouts do throw.
 */

export interface ClusterRequestOptions {
  token: string;
  timeoutMs?: number;
}

export interface ClusterResponse {
  status: number;
  body: unknown;
}

/**
 * Connections are kept open between requests: heartbeats, dispatches and status reports go to the same
 * few peers all the time. node:http is used instead of fetch because it costs far less CPU per request,
 * which matters when the host dispatches to a thousand runners.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 10_000 });

export function clusterRequest(
  method: string,
  url: string,
  body: unknown,
  options: ClusterRequestOptions,
): Promise<ClusterResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = { authorization: `Bearer ${options.token}` };
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = payload.length;
  }

  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers, agent, timeout: options.timeoutMs ?? 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        if (text !== "") {
          try {
            parsed = JSON.parse(text);
          } catch {
            // Keep the raw text; callers only read fields from JSON bodies.
          }
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    request.on("timeout", () =>
      request.destroy(new TimeoutError(`no response from ${url} within ${options.timeoutMs ?? 10_000} ms`)),
    );
    request.on("error", reject);
    request.end(payload);
  });
}

class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** Describes a fetch failure in a few words (ECONNREFUSED, timed out, …) for logs and status messages. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    if (code !== undefined) return code;
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code !== undefined) return cause.code;
    if (error.name === "TimeoutError") return "timed out";
    return error.message;
  }
  return String(error);
}

/** Compares a presented token with the expected one in constant time. */
export function tokensMatch(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || presented.length !== expected.length) return false;
  let difference = 0;
  for (let index = 0; index < expected.length; index += 1) {
    difference |= presented.charCodeAt(index) ^ expected.charCodeAt(index);
  }
  return difference === 0;
}

/** Extracts the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}
