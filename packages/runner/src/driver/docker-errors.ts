/** Turns dockerode failures into the driver's error classes with messages that name what failed. */

import { DriverOperationError, EngineUnavailableError } from "./types.js";

/** The fields dockerode and docker-modem put on their errors. */
interface EngineFailure {
  statusCode?: number;
  code?: string;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

/** Socket errors that mean no engine is listening, as opposed to an engine that returned an error. */
const UNREACHABLE_CODES = new Set(["ENOENT", "ECONNREFUSED", "ECONNRESET", "EACCES", "EPERM", "ENOTSOCK", "ETIMEDOUT"]);

export function statusCodeOf(error: unknown): number | null {
  const statusCode = (error as EngineFailure | null)?.statusCode;
  return typeof statusCode === "number" ? statusCode : null;
}

/** Returns the engine's own message (for example "No such image: x:y") without dockerode's "(HTTP code 404)" prefix. */
export function engineMessageOf(error: unknown): string {
  const failure = error as EngineFailure | null;
  const fromJson = failure?.json?.message;
  if (typeof fromJson === "string" && fromJson !== "") {
    return fromJson.trim();
  }
  // docker-modem prefixes its own text, such as "(HTTP code 500) server error - ", when no JSON body was parsed.
  return String(failure?.message ?? error)
    .replace(/^\(HTTP code \d+\) [^-]*- /, "")
    .trim();
}

export function isUnreachable(error: unknown): boolean {
  const code = (error as EngineFailure | null)?.code;
  return statusCodeOf(error) === null && typeof code === "string" && UNREACHABLE_CODES.has(code);
}

/**
 * Wraps an engine failure: EngineUnavailableError when nothing listens on the socket, DriverOperationError
 * with `failed to {action}: {engine message}` otherwise.
 */
export function wrapEngineError(error: unknown, action: string, socketPath: string): Error {
  if (isUnreachable(error)) {
    return new EngineUnavailableError(socketPath, { cause: error });
  }
  return new DriverOperationError(`failed to ${action}: ${engineMessageOf(error)}`, statusCodeOf(error), {
    cause: error,
  });
}
