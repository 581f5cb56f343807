/** Account routes under /api/auth: status, login, logout, registration, API tokens, users and invitations. */

import {
  AccountRegisterQuerySchema,
  AccountRegisterRequestSchema,
  AuthStatusResponseSchema,
  IdParamsSchema,
  InvitationCreateRequestSchema,
  InvitationResponseSchema,
  LoginRequestSchema,
  LoginResponseSchema,
  MessageSchema,
  TokenCreateRequestSchema,
  TokenCreatedResponseSchema,
  TokenResponseSchema,
  UserIdParamsSchema,
  UserResponseSchema,
  UserUpdateRequestSchema,
  type InvitationResponse,
  type UserResponse,
} from "@kohakuriver/api";
import type { FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import { SESSION_COOKIE } from "../../auth/access-control.js";
import { invitationProblem, type AccountService, type NewSession } from "../../auth/account-service.js";
import type { InvitationRecord, TokenRecord, UserRecord } from "../../store/auth-types.js";
import type { Store } from "../../store/types.js";
import { ERROR_RESPONSES } from "./error-responses.js";

export interface AuthRoutesOptions {
  accounts: AccountService;
  store: Store;
  config: { SESSION_EXPIRE_HOURS: number };
}

export const authRoutes: FastifyPluginAsyncZod<AuthRoutesOptions> = async (app, { accounts, store, config }) => {
  app.get(
    "/api/auth/status",
    {
      schema: {
        tags: ["auth"],
        summary: "Whether authentication is enabled",
        response: { 200: AuthStatusResponseSchema },
      },
    },
    async () => ({
      auth_enabled: accounts.authEnabled,
      session_expire_hours: accounts.authEnabled ? config.SESSION_EXPIRE_HOURS : null,
    }),
  );

  app.post(
    "/api/auth/login",
    {
      schema: {
        tags: ["auth"],
        summary: "Log in with a password; sets the kohakuriver_session cookie",
        body: LoginRequestSchema,
        response: { 200: LoginResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const session = await accounts.login(request, request.body.username, request.body.password);
      setSessionCookie(reply, session);
      return { message: `logged in as ${session.user.username}`, user: toUserResponse(session.user) };
    },
  );

  app.post(
    "/api/auth/logout",
    {
      schema: {
        tags: ["auth"],
        summary: "End the session of the kohakuriver_session cookie",
        response: { 200: MessageSchema },
      },
    },
    async (request, reply) => {
      await accounts.logout(request, request.cookies[SESSION_COOKIE]);
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return { message: "logged out" };
    },
  );

  app.post(
    "/api/auth/register",
    {
      schema: {
        tags: ["auth"],
        summary: "Create an account with an invitation token (?token=); logs the new account in",
        querystring: AccountRegisterQuerySchema,
        body: AccountRegisterRequestSchema,
        response: { 200: LoginResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const session = await accounts.register(request, request.query.token, request.body);
      setSessionCookie(reply, session);
      return { message: `account ${session.user.username} created`, user: toUserResponse(session.user) };
    },
  );

  app.get(
    "/api/auth/me",
    {
      schema: {
        tags: ["auth"],
        summary: "The calling account",
        response: { 200: UserResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      accounts.requireAuthEnabled();
      const principal = request.principal;
      const user = principal.kind === "user" ? await store.auth.getUser(principal.id) : undefined;
      if (user !== undefined) return toUserResponse(user);
      // The X-Admin-Token pseudo-user has no row.
      return {
        id: principal.id,
        username: principal.username,
        display_name: null,
        role: principal.role,
        is_active: true,
        created_at: new Date(0).toISOString(),
      };
    },
  );

  app.get(
    "/api/auth/tokens",
    {
      schema: {
        tags: ["auth"],
        summary: "The caller's API tokens, newest first (without the secrets)",
        response: { 200: z.array(TokenResponseSchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => (await accounts.listApiTokens(request.principal)).map(toTokenResponse),
  );

  app.post(
    "/api/auth/tokens/create",
    {
      schema: {
        tags: ["auth"],
        summary: "Create an API token for the caller; the secret is returned only in this response",
        body: TokenCreateRequestSchema,
        response: { 200: TokenCreatedResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { record, token } = await accounts.createApiToken(request, request.principal, request.body.name);
      return { ...toTokenResponse(record), token };
    },
  );

  app.delete(
    "/api/auth/tokens/:id",
    {
      schema: {
        tags: ["auth"],
        summary: "Revoke one of the caller's API tokens",
        params: IdParamsSchema,
        response: { 200: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await accounts.revokeApiToken(request, request.principal, request.params.id);
      return { message: `token ${request.params.id} revoked` };
    },
  );

  app.get(
    "/api/auth/users",
    {
      schema: {
        tags: ["auth"],
        summary: "List accounts, newest first",
        response: { 200: z.array(UserResponseSchema), ...ERROR_RESPONSES },
      },
    },
    async () => {
      accounts.requireAuthEnabled();
      return (await store.auth.listUsers()).map(toUserResponse);
    },
  );

  app.patch(
    "/api/auth/users/:id",
    {
      schema: {
        tags: ["auth"],
        summary: "Change an account's display name, role or active flag",
        params: UserIdParamsSchema,
        body: UserUpdateRequestSchema,
        response: { 200: UserResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) =>
      toUserResponse(await accounts.updateUser(request, request.principal, request.params.id, request.body)),
  );

  app.delete(
    "/api/auth/users/:id",
    {
      schema: {
        tags: ["auth"],
        summary: "Delete an account with its sessions, tokens and VPS assignments",
        params: UserIdParamsSchema,
        response: { 200: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await accounts.deleteUser(request, request.principal, request.params.id);
      return { message: `user ${request.params.id} deleted` };
    },
  );

  app.get(
    "/api/auth/invitations",
    {
      schema: {
        tags: ["auth"],
        summary: "List invitations, newest first",
        response: { 200: z.array(InvitationResponseSchema), ...ERROR_RESPONSES },
      },
    },
    async () => {
      accounts.requireAuthEnabled();
      return (await store.auth.listInvitations()).map(toInvitationResponse);
    },
  );

  app.post(
    "/api/auth/invitations",
    {
      schema: {
        tags: ["auth"],
        summary: "Create an invitation (operators may invite viewers only)",
        body: InvitationCreateRequestSchema,
        response: { 200: InvitationResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => toInvitationResponse(await accounts.createInvitation(request, request.principal, request.body)),
  );

  app.delete(
    "/api/auth/invitations/:id",
    {
      schema: {
        tags: ["auth"],
        summary: "Revoke an invitation",
        params: IdParamsSchema,
        response: { 200: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await accounts.deleteInvitation(request, request.params.id);
      return { message: `invitation ${request.params.id} revoked` };
    },
  );
};

function setSessionCookie(reply: FastifyReply, session: NewSession): void {
  // Secure is off because the host serves plain HTTP; put a TLS proxy in front of it for other networks.
  reply.setCookie(SESSION_COOKIE, session.sessionId, {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: session.maxAgeSeconds,
  });
}

export function toUserResponse(user: UserRecord): UserResponse {
  return {
    id: user.id,
    username: user.username,
    display_name: user.display_name,
    role: user.role,
    is_active: user.is_active,
    created_at: user.created_at,
  };
}

function toTokenResponse(token: TokenRecord) {
  return { id: token.id, name: token.name, last_used: token.last_used, created_at: token.created_at };
}

function toInvitationResponse(invitation: InvitationRecord): InvitationResponse {
  return {
    ...invitation,
    remaining_uses: Math.max(0, invitation.max_usage - invitation.usage_count),
    is_valid: invitationProblem(invitation) === null,
  };
}
