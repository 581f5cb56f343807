/**
 * Enforces the policy table on every request with one `onRequest` hook, so a caller without access gets
 * its 401 or 403 before the body is read or validated. An `onRoute` hook rejects any route that has no
 * entry in the table, which makes the server fail to start instead of serving an unprotected route.
 */

import { ForbiddenError, NotFoundError, UnauthorizedError, isRoleAtLeast, type Role } from "@kohakuriver/api";
import { bearerToken, tokensMatch, type Logger } from "@kohakuriver/common";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

import type { HostConfig } from "../config.js";
import type { Store } from "../store/types.js";
import { hashApiToken } from "./credentials.js";
import { policyFor, policyKey, type RoutePolicy } from "./policy.js";
import { anonymousPrincipal, systemPrincipal, userPrincipal, type Principal } from "./principal.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller, resolved by the access-control hook before any handler runs. */
    principal: Principal;
  }
}

export const SESSION_COOKIE = "kohakuriver_session";
export const ADMIN_TOKEN_HEADER = "x-admin-token";

/** `last_used` of a token is written at most this often, so that each request does not cost a write. */
const TOKEN_TOUCH_INTERVAL_MS = 60_000;

export interface AccessControlOptions {
  config: Pick<HostConfig, "AUTH_ENABLED" | "ADMIN_SECRET">;
  clusterToken: string;
  store: Store;
  logger: Logger;
}

/** Thrown from `onRoute` for a route without an entry in the policy table. */
export class MissingRoutePolicyError extends Error {
  override name = "MissingRoutePolicyError";
}

export interface RegisteredRoute {
  method: string;
  url: string;
  websocket: boolean;
}

/**
 * Installs the hooks and returns the list that the `onRoute` hook fills with every route registered
 * afterwards: the server's own route table, which the access tests enumerate.
 */
export function installAccessControl(app: FastifyInstance, options: AccessControlOptions): RegisteredRoute[] {
  const resolver = new PrincipalResolver(options);
  const routes: RegisteredRoute[] = [];
  app.decorateRequest("principal", null as unknown as Principal);

  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      routes.push({ method, url: route.url, websocket: (route as { websocket?: boolean }).websocket === true });
      if (policyFor(method, route.url) === undefined) {
        throw new MissingRoutePolicyError(
          `route ${policyKey(method, route.url)} has no entry in ROUTE_POLICIES (packages/host/src/auth/policy.ts); ` +
            "add one that says who may call it",
        );
      }
    }
  });

  app.addHook("onRequest", async (request, reply) => {
    const url = request.routeOptions.url;
    // No route matched, so the not-found handler sends its 404, which reveals nothing.
    if (url === undefined) return;
    const policy = policyFor(request.method, url) as RoutePolicy;

    if (policy.access === "cluster") {
      request.principal = anonymousPrincipal();
      checkClusterToken(request, reply, options.clusterToken);
      return;
    }

    if (
      policy.access === "role" &&
      policy.runners === true &&
      tokensMatch(bearerToken(request.headers.authorization), options.clusterToken)
    ) {
      request.principal = anonymousPrincipal();
      return;
    }

    request.principal = await resolver.resolve(request);
    if (policy.access === "public") return;
    requireRole(request.principal, policy.role, reply);
    if (policy.access === "task" && !isRoleAtLeast(request.principal.role, policy.anyTaskRole)) {
      await requireTaskAccess(request, options.store, policy.anyTaskRole);
    }
  });
  return routes;
}

function checkClusterToken(request: FastifyRequest, reply: FastifyReply, clusterToken: string): void {
  const presented = bearerToken(request.headers.authorization);
  if (tokensMatch(presented, clusterToken)) return;
  reply.header("www-authenticate", 'Bearer realm="kohakuriver-cluster"');
  throw new UnauthorizedError(
    presented === undefined
      ? "missing cluster token: this route is for runners; send 'Authorization: Bearer <cluster token>'"
      : "invalid cluster token: this route is for runners; set CLUSTER_TOKEN to the host's cluster token",
  );
}

function requireRole(principal: Principal, minimum: Role, reply: FastifyReply): void {
  if (isRoleAtLeast(principal.role, minimum)) return;
  if (principal.kind === "anonymous") {
    reply.header("www-authenticate", 'Bearer realm="kohakuriver"');
    throw new UnauthorizedError(
      principal.rejectedBecause ??
        "authentication required: log in with 'kohakuriver auth login', or send 'Authorization: Bearer <API token>'",
    );
  }
  throw new ForbiddenError(
    `insufficient permissions: this needs the ${minimum} role, and ${principal.username} is ${principal.role}`,
  );
}

async function requireTaskAccess(request: FastifyRequest, store: Store, anyTaskRole: Role): Promise<void> {
  const taskId = (request.params as { task_id?: string }).task_id;
  // A malformed or unknown id passes here so that the handler returns its 400 or 404.
  if (taskId === undefined || !/^\d{1,20}$/.test(taskId)) return;
  const task = await store.getTask(taskId);
  if (task === undefined) return;
  await requireOwnerOrAssignee(store, request.principal, task, anyTaskRole);
}

async function requireOwnerOrAssignee(
  store: Store,
  principal: Principal,
  task: { task_id: string; task_type: string; owner_id: number | null },
  anyTaskRole: Role,
): Promise<void> {
  if (task.owner_id === principal.id) return;
  if (task.task_type === "vps" && (await store.auth.isAssignedToVps(task.task_id, principal.id))) return;
  throw new ForbiddenError(
    `task ${task.task_id} belongs to another account; only its owner, an assignee of its VPS, or the ${anyTaskRole} role may use it`,
  );
}

/**
 * Checks an API token for the use of one task under the owner-or-assignee-or-operator rule, for entry
 * points outside the HTTP routes, such as a token sent on the SSH proxy's request line. Returns the
 * principal, or raises UnauthorizedError, ForbiddenError or NotFoundError.
 */
export async function authorizeTaskUse(
  options: AccessControlOptions,
  token: string | undefined,
  taskId: string,
): Promise<Principal> {
  const principal = await new PrincipalResolver(options).resolveToken(token);
  if (principal.kind === "anonymous") {
    throw new UnauthorizedError(principal.rejectedBecause ?? "authentication required: send an API token");
  }
  if (!isRoleAtLeast(principal.role, "user")) {
    throw new ForbiddenError(
      `insufficient permissions: this needs the user role, and ${principal.username} is ${principal.role}`,
    );
  }

  const task = await options.store.getTask(taskId);
  if (task === undefined) throw new NotFoundError(`task ${taskId} not found`);
  if (!isRoleAtLeast(principal.role, "operator"))
    await requireOwnerOrAssignee(options.store, principal, task, "operator");
  return principal;
}

/** Turns a request's credentials into a principal, in the original's order of precedence. */
class PrincipalResolver {
  private readonly tokenTouchedAt = new Map<number, number>();

  constructor(private readonly options: AccessControlOptions) {}

  async resolve(request: FastifyRequest): Promise<Principal> {
    const { config } = this.options;
    if (!config.AUTH_ENABLED) return systemPrincipal("auth-disabled");

    const adminToken = request.headers[ADMIN_TOKEN_HEADER];
    if (config.ADMIN_SECRET !== "" && typeof adminToken === "string") {
      if (tokensMatch(adminToken, config.ADMIN_SECRET)) return systemPrincipal("admin-secret");
      return anonymousPrincipal("invalid X-Admin-Token: it does not match ADMIN_SECRET");
    }

    const fromSession = await this.fromSession(request.cookies[SESSION_COOKIE]);
    if (fromSession?.kind === "user") return fromSession;

    const token = bearerToken(request.headers.authorization);
    if (token !== undefined) return this.fromToken(token);
    return fromSession ?? anonymousPrincipal();
  }

  /** Resolves a bare API token, as `resolve` would from an Authorization header. */
  async resolveToken(token: string | undefined): Promise<Principal> {
    if (!this.options.config.AUTH_ENABLED) return systemPrincipal("auth-disabled");
    if (token === undefined || token === "") return anonymousPrincipal();
    return this.fromToken(token);
  }

  private async fromSession(sessionId: string | undefined): Promise<Principal | undefined> {
    if (sessionId === undefined || sessionId === "") return undefined;
    const { store } = this.options;
    const session = await store.auth.getSession(sessionId);
    if (session === undefined) return anonymousPrincipal("session not found or logged out: log in again");
    if (Date.parse(session.expires_at) <= Date.now()) {
      await store.auth.deleteSession(sessionId);
      return anonymousPrincipal("session expired: log in again");
    }
    const user = await store.auth.getUser(session.user_id);
    if (user === undefined) return anonymousPrincipal("session not found or logged out: log in again");
    if (!user.is_active) return anonymousPrincipal(`account ${user.username} is disabled; ask an admin to enable it`);
    return userPrincipal(user, "session", { sessionId });
  }

  private async fromToken(token: string): Promise<Principal> {
    const { store, logger } = this.options;
    const record = await store.auth.getTokenByHash(hashApiToken(token));
    if (record === undefined) {
      return anonymousPrincipal(
        "invalid or revoked API token: log in again with 'kohakuriver auth login' or create a new token",
      );
    }
    const user = await store.auth.getUser(record.user_id);
    if (user === undefined) return anonymousPrincipal("invalid or revoked API token");
    if (!user.is_active) return anonymousPrincipal(`account ${user.username} is disabled; ask an admin to enable it`);

    const now = Date.now();
    if (now - (this.tokenTouchedAt.get(record.id) ?? 0) >= TOKEN_TOUCH_INTERVAL_MS) {
      this.tokenTouchedAt.set(record.id, now);
      store.auth
        .touchToken(record.id, new Date(now).toISOString())
        .catch((error: unknown) => logger.warn({ err: error, tokenId: record.id }, "failed to record token use"));
    }
    return userPrincipal(user, "token", { tokenId: record.id });
  }
}
