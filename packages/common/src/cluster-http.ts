/**
 * JSON over HTTP between the host and its runners, always carrying the cluster token.
 * Returns the status and parsed body instead of throwing on HTTP errors, because callers (dispatch and
 * report loops) treat each status differently; network failures and timeouts do throw.
 */

export interface ClusterRequestOptions {
  token: string;
  timeoutMs?: number;
}

export interface ClusterResponse {
  status: number;
  body: unknown;
}

export async function clusterRequest(
  method: string,
  url: string,
  body: unknown,
  options: ClusterRequestOptions,
): Promise<ClusterResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";

  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Keep the raw text; callers only read fields from JSON bodies.
    }
  }
  return { status: response.status, body: parsed };
}

/** Describes a fetch failure in a few words (ECONNREFUSED, timed out, …) for logs and status messages. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
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
