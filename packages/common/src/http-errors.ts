/**
 * The one place where errors become HTTP responses (used by the host and the runner): `{ detail, code, field? }`.
 * Validation failures are 400s whose detail names the field. Anything unexpected is logged and returned
 * as a 500 that hides internals.
 */

import { KohakuRiverError, RateLimitedError, UnauthorizedError, type ErrorBody } from "@kohakuriver/api";
import {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";

import { bearerToken, tokensMatch } from "./cluster-http.js";
import type { Logger } from "./logger.js";

/** Server options shared by the host and the runner: our logger, no per-request log lines, 8 MiB bodies. */
export function serverOptions(logger: Logger): FastifyServerOptions & { loggerInstance: FastifyBaseLogger } {
  return {
    loggerInstance: logger.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 8 * 1024 * 1024,
    frameworkErrors: replyToMalformedUrl,
  };
}

/**
 * Fastify rejects a malformed URL (bad percent-encoding, a path parameter over `maxParamLength`) before
 * routing, so the error handler never receives it and the default response would lack `detail`.
 */
function replyToMalformedUrl(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const url = quoteForDetail(request.url);
  const detail =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? `url: a path parameter in ${url} is too long; send a shorter value`
      : `url: ${url} is not a valid URL; percent-encode it, for example '%' as %25`;
  const body: ErrorBody = { detail, code: "invalid_input" };
  void reply.status(error.statusCode ?? 400).send(body);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof KohakuRiverError) {
      if (error instanceof RateLimitedError) reply.header("retry-after", String(error.retryAfterSeconds));
      return reply.status(error.status).send(error.toBody());
    }

    if (hasZodFastifySchemaValidationErrors(error)) {
      const issue = firstUsefulIssue(error.validation);
      const location = error.validationContext === "body" ? "" : `${error.validationContext ?? "request"} `;
      const field = issue?.instancePath.replace(/^\//, "").replaceAll("/", ".") || (error.validationContext ?? "body");
      const body: ErrorBody = {
        detail: `${location}${field}: ${issue === undefined ? "invalid value" : describeIssue(issue)}`,
        code: "invalid_input",
        field,
      };
      return reply.status(400).send(body);
    }

    if (isResponseSerializationError(error)) {
      request.log.error({ err: error, issues: error.cause.issues }, "response does not match its schema");
      return reply.status(500).send({ detail: "internal error: response failed validation", code: "internal" });
    }

    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const detail = describeRequestError(error, request);
      return reply.status(status).send({ detail, code: status === 404 ? "not_found" : "invalid_input" });
    }

    request.log.error({ err: error, url: request.url, method: request.method }, "request failed");
    return reply.status(500).send({ detail: "internal error; see the host log for details", code: "internal" });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send({ detail: `no route for ${request.method} ${request.url.split("?")[0]}`, code: "not_found" });
  });
}

/**
 * A hook that admits only callers presenting the cluster token (host ↔ runner traffic). As an `onRequest`
 * hook it rejects an unauthenticated caller with a 401 before the body is read or validated.
 */
export function requireClusterToken(clusterToken: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const presented = bearerToken(request.headers.authorization);
    if (!tokensMatch(presented, clusterToken)) {
      throw new UnauthorizedError(
        presented === undefined
          ? "missing cluster token: send 'Authorization: Bearer <cluster token>'"
          : "invalid cluster token: set CLUSTER_TOKEN to the host's cluster token",
      );
    }
  };
}

/** Describes the request errors that Fastify raises itself (body parsing and limits), saying what to send. */
function describeRequestError(error: FastifyError, request: FastifyRequest): string {
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      // secure-json-parse rejects `__proto__` and `constructor.prototype` keys with the same error.
      return "body: invalid JSON, or JSON with a __proto__ or constructor.prototype key; send one JSON object";
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "body: empty, but Content-Type is application/json; send a JSON object";
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return (
        `body: unsupported Content-Type ${quoteForDetail(request.headers["content-type"] ?? "")}; ` +
        "send JSON with 'Content-Type: application/json'"
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return `body: larger than the limit of ${request.routeOptions.bodyLimit} bytes`;
    default:
      return error instanceof SyntaxError ? `body: invalid JSON (${error.message})` : error.message;
  }
}

/** Quotes a caller's value for an error detail, cut to 200 characters so a huge value cannot bloat the reply. */
function quoteForDetail(value: string): string {
  return `'${value.length > 200 ? `${value.slice(0, 200)}…` : value}'`;
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message: string;
  params: Record<string, unknown>;
}

/**
 * Returns the issue to report. zod checks `.int()` against the safe-integer range before a tighter
 * `.min()` or `.max()` and reports both, so the tighter bound on the same value is preferred.
 */
function firstUsefulIssue(issues: readonly ValidationIssue[]): ValidationIssue | undefined {
  const first = issues[0];
  if (first?.params.origin !== "int") return first;
  const tighter = issues.find(
    (issue) => issue.instancePath === first.instancePath && issue.keyword === first.keyword && issue !== first,
  );
  return tighter ?? first;
}

interface NestedIssue {
  code?: string;
  message?: string;
  expected?: string;
}

/**
 * Describes one validation issue. For a value matching no branch of a union (a size given as bytes or as
 * a string, say) zod reports only "Invalid input", so the most specific message of its branches is used.
 */
function describeIssue(issue: ValidationIssue): string {
  if (issue.keyword !== "invalid_union" || !Array.isArray(issue.params.errors)) return issue.message;

  const branches = (issue.params.errors as NestedIssue[][]).flat();
  const specific = branches.find((branch) => branch.code !== "invalid_type" && branch.message !== undefined);
  if (specific?.message !== undefined) return specific.message;

  const expected = [...new Set(branches.map((branch) => branch.expected).filter((value) => value !== undefined))];
  return expected.length > 0 ? `Invalid input: expected ${expected.join(" or ")}` : issue.message;
}
