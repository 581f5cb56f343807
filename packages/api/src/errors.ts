/**
 * Error classes shared by the host, the runner and the clients.
 *
 * Every error that reaches an HTTP response carries a human-readable `detail` (the field name the
 * original API used) and a stable machine-readable `code`. The server turns these classes into
 * responses in one error handler, and the typed client turns responses back into these classes.
 */

export type ErrorCode =
  | "invalid_input"
  | "not_found"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "rate_limited"
  | "too_large"
  | "unavailable"
  | "internal";

export interface ErrorBody {
  detail: string;
  code: ErrorCode;
  /** The request field that the error is about, when there is one. */
  field?: string;
}

export class KohakuRiverError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, status: number, detail: string, options?: { field?: string; cause?: unknown }) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.field = options?.field;
  }

  get detail(): string {
    return this.message;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { detail: this.message, code: this.code };
    if (this.field !== undefined) body.field = this.field;
    return body;
  }
}

/** The caller sent something invalid; the message names the field and what to send instead. */
export class InvalidInputError extends KohakuRiverError {
  constructor(detail: string, field?: string) {
    super("invalid_input", 400, detail, field === undefined ? undefined : { field });
  }
}

export class NotFoundError extends KohakuRiverError {
  constructor(detail: string) {
    super("not_found", 404, detail);
  }
}

/** The request is valid but the current state does not allow it (for example killing a finished task). */
export class ConflictError extends KohakuRiverError {
  constructor(detail: string) {
    super("conflict", 409, detail);
  }
}

export class UnauthorizedError extends KohakuRiverError {
  constructor(detail: string) {
    super("unauthorized", 401, detail);
  }
}

export class ForbiddenError extends KohakuRiverError {
  constructor(detail: string) {
    super("forbidden", 403, detail);
  }
}

/** The request or the data it names is larger than a limit; the message gives the limit. */
export class PayloadTooLargeError extends KohakuRiverError {
  constructor(detail: string) {
    super("too_large", 413, detail);
  }
}

/** Too many attempts (failed logins, for example); `retryAfterSeconds` is the wait before the next try. */
export class RateLimitedError extends KohakuRiverError {
  readonly retryAfterSeconds: number;

  constructor(detail: string, retryAfterSeconds: number) {
    super("rate_limited", 429, detail);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (a runner, the Docker Engine, the store) could not be reached; retrying may help. */
export class UnavailableError extends KohakuRiverError {
  constructor(detail: string, cause?: unknown) {
    super("unavailable", 503, detail, { cause });
  }
}

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: "invalid_input",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "too_large",
  429: "rate_limited",
  503: "unavailable",
};

/** Rebuilds an error from an HTTP status and a response body, as the typed client receives them. */
export function errorFromResponse(status: number, body: unknown): KohakuRiverError {
  const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const detail = typeof record.detail === "string" ? record.detail : `HTTP ${status}`;
  const field = typeof record.field === "string" ? record.field : undefined;
  const code = (typeof record.code === "string" ? record.code : STATUS_TO_CODE[status]) as ErrorCode | undefined;

  switch (code) {
    case "invalid_input":
      return new InvalidInputError(detail, field);
    case "not_found":
      return new NotFoundError(detail);
    case "conflict":
      return new ConflictError(detail);
    case "unauthorized":
      return new UnauthorizedError(detail);
    case "forbidden":
      return new ForbiddenError(detail);
    case "rate_limited":
      return new RateLimitedError(detail, 0);
    case "too_large":
      return new PayloadTooLargeError(detail);
    case "unavailable":
      return new UnavailableError(detail);
    default:
      return new KohakuRiverError("internal", status, detail, field === undefined ? undefined : { field });
  }
}
