/**
 * Account operations behind the /api/auth routes: login with throttling, registration by invitation,
 * sessions, API tokens, user management and invitations. Every change is written to the audit log.
 */

import {
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  isAccountRole,
  isRoleAtLeast,
  type AccountRegisterRequest,
  type InvitationCreateRequest,
  type UserUpdateRequest,
} from "@kohakuriver/api";
import { sleep, tokensMatch, type Logger } from "@kohakuriver/common";
import type { FastifyRequest } from "fastify";

import type { HostConfig } from "../config.js";
import type { InvitationRecord, TokenRecord, UserRecord } from "../store/auth-types.js";
import type { Store } from "../store/types.js";
import type { AuditLog } from "./audit-log.js";
import { hashApiToken, hashPassword, newSecret, verifyPassword } from "./credentials.js";
import type { LoginThrottle } from "./login-throttle.js";
import type { Principal } from "./principal.js";

export interface AccountServiceOptions {
  config: Pick<
    HostConfig,
    "AUTH_ENABLED" | "ADMIN_REGISTER_SECRET" | "SESSION_EXPIRE_HOURS" | "INVITATION_EXPIRE_HOURS"
  >;
  store: Store;
  audit: AuditLog;
  throttle: LoginThrottle;
  logger: Logger;
}

export interface NewSession {
  user: UserRecord;
  sessionId: string;
  maxAgeSeconds: number;
}

export class AccountService {
  /** Failed or throttled logins logged since the last summary line, so a flood does not flood the log. */
  private throttledSinceLog = 0;

  constructor(private readonly options: AccountServiceOptions) {}

  get authEnabled(): boolean {
    return this.options.config.AUTH_ENABLED;
  }

  /** Raises 503 when authentication is off, for the routes that only make sense with accounts. */
  requireAuthEnabled(): void {
    if (!this.authEnabled) {
      throw new UnavailableError(
        "authentication is disabled on this host (AUTH_ENABLED = false), so there are no accounts; every caller acts as admin",
      );
    }
  }

  async login(request: FastifyRequest, username: string, password: string): Promise<NewSession> {
    this.requireAuthEnabled();
    const { store, throttle, audit, logger } = this.options;
    const address = request.ip;

    const decision = throttle.check(username, address);
    if (decision.kind === "locked") {
      this.throttledSinceLog += 1;
      if (this.throttledSinceLog === 1 || this.throttledSinceLog % 100 === 0) {
        logger.warn({ username, address, count: this.throttledSinceLog }, "login rejected: too many failed attempts");
        await audit.record(request, {
          action: "auth.login_throttled",
          target: `user:${username}`,
          success: false,
          actor: { id: null, username },
          detail: { retry_after_seconds: decision.retryAfterSeconds },
        });
      }
      throw new RateLimitedError(
        `too many failed logins for ${username} or from ${address}; try again in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
    this.throttledSinceLog = 0;
    if (decision.delayMs > 0) await sleep(decision.delayMs);

    const user = await store.auth.getUserByUsername(username);
    const matches = await verifyPassword(password, user?.password_hash);
    if (user === undefined || !matches) {
      const failures = throttle.recordFailure(username, address);
      logger.warn({ username, address, failures }, "login failed: wrong username or password");
      await audit.record(request, {
        action: "auth.login_failed",
        target: `user:${username}`,
        success: false,
        actor: { id: user?.id ?? null, username },
        detail: { failures },
      });
      throw new UnauthorizedError("wrong username or password");
    }
    if (!user.is_active) {
      await audit.record(request, {
        action: "auth.login_failed",
        target: `user:${username}`,
        success: false,
        actor: { id: user.id, username },
        detail: { reason: "account disabled" },
      });
      throw new ForbiddenError(`account ${username} is disabled; ask an admin to enable it`);
    }

    throttle.recordSuccess(username);
    const session = await this.createSession(user);
    await audit.record(request, { action: "auth.login", target: `user:${username}`, actor: { id: user.id, username } });
    return session;
  }

  async logout(request: FastifyRequest, sessionId: string | undefined): Promise<void> {
    if (sessionId === undefined || sessionId === "") return;
    const session = await this.options.store.auth.getSession(sessionId);
    if (session === undefined) return;
    await this.options.store.auth.deleteSession(sessionId);
    await this.options.audit.record(request, {
      action: "auth.logout",
      target: `user_id:${session.user_id}`,
      actor: { id: session.user_id, username: null },
    });
  }

  /** Creates an account from an invitation token, or an admin account from ADMIN_REGISTER_SECRET. */
  async register(request: FastifyRequest, token: string, body: AccountRegisterRequest): Promise<NewSession> {
    this.requireAuthEnabled();
    const { store, audit, config } = this.options;
    const newUser = {
      username: body.username,
      display_name: body.display_name ?? body.username,
      password_hash: await hashPassword(body.password),
      is_active: true,
      role: "user",
    };

    let user: UserRecord;
    if (config.ADMIN_REGISTER_SECRET !== "" && tokensMatch(token, config.ADMIN_REGISTER_SECRET)) {
      user = await store.auth.createUser({ ...newUser, role: "admin" });
    } else {
      const invitation = await store.auth.getInvitationByToken(token);
      if (invitation === undefined) throw new InvalidInputError("token: invalid invitation token", "token");
      const problem = invitationProblem(invitation);
      if (problem !== null) throw new InvalidInputError(`token: the invitation ${problem}`, "token");
      if ((await store.auth.getUserByUsername(body.username)) !== undefined) {
        throw new ConflictError(`username ${body.username} is already taken; choose another`);
      }
      try {
        user = await store.auth.createUserWithInvitation(
          { ...newUser, role: invitation.role },
          invitation.id,
          new Date().toISOString(),
        );
      } catch (error) {
        if (error instanceof ConflictError && /invitation/.test(error.message)) {
          throw new InvalidInputError("token: the invitation was used up or expired meanwhile", "token");
        }
        throw error;
      }
    }

    await audit.record(request, {
      action: "auth.register",
      target: `user:${user.username}`,
      actor: { id: user.id, username: user.username },
      detail: { role: user.role },
    });
    return this.createSession(user);
  }

  async createApiToken(
    request: FastifyRequest,
    principal: Principal,
    name: string,
  ): Promise<{ record: TokenRecord; token: string }> {
    this.requireAuthEnabled();
    const userId = requireAccount(principal);
    const result = await this.issueToken(userId, name);
    await this.options.audit.record(request, {
      action: "token.create",
      target: `token:${result.record.id}`,
      detail: { name },
    });
    return result;
  }

  /** Creates a token for an account without a request, for `kohakuriver up` in the same process. */
  async issueToken(userId: number, name: string): Promise<{ record: TokenRecord; token: string }> {
    const token = newSecret();
    const record = await this.options.store.auth.createToken({
      user_id: userId,
      token_hash: hashApiToken(token),
      name,
      created_at: new Date().toISOString(),
    });
    return { record, token };
  }

  async listApiTokens(principal: Principal): Promise<TokenRecord[]> {
    this.requireAuthEnabled();
    return this.options.store.auth.listTokens(requireAccount(principal));
  }

  async revokeApiToken(request: FastifyRequest, principal: Principal, tokenId: number): Promise<void> {
    this.requireAuthEnabled();
    const deleted = await this.options.store.auth.deleteToken(tokenId, requireAccount(principal));
    if (!deleted) throw new NotFoundError(`token ${tokenId} not found among your tokens`);
    await this.options.audit.record(request, { action: "token.revoke", target: `token:${tokenId}` });
  }

  async updateUser(
    request: FastifyRequest,
    principal: Principal,
    userId: number,
    update: UserUpdateRequest,
  ): Promise<UserRecord> {
    this.requireAuthEnabled();
    const { store, audit } = this.options;
    const existing = await store.auth.getUser(userId);
    if (existing === undefined) throw new NotFoundError(`user ${userId} not found`);
    if (userId === principal.id) {
      if (update.role !== undefined && update.role !== existing.role) {
        throw new InvalidInputError("role: you cannot change your own role; ask another admin", "role");
      }
      if (update.is_active === false) {
        throw new InvalidInputError("is_active: you cannot disable your own account", "is_active");
      }
    }

    const updated = (await store.auth.updateUser(userId, update)) as UserRecord;
    if (update.role !== undefined && update.role !== existing.role) {
      await audit.record(request, {
        action: "user.role_change",
        target: `user:${existing.username}`,
        detail: { from: existing.role, to: update.role },
      });
    }
    if (update.is_active !== undefined && update.is_active !== existing.is_active) {
      await audit.record(request, {
        action: update.is_active ? "user.enable" : "user.disable",
        target: `user:${existing.username}`,
      });
    }
    return updated;
  }

  async deleteUser(request: FastifyRequest, principal: Principal, userId: number): Promise<void> {
    this.requireAuthEnabled();
    if (userId === principal.id) throw new InvalidInputError("id: you cannot delete your own account", "id");
    const existing = await this.options.store.auth.getUser(userId);
    if (existing === undefined || !(await this.options.store.auth.deleteUser(userId))) {
      throw new NotFoundError(`user ${userId} not found`);
    }
    await this.options.audit.record(request, { action: "user.delete", target: `user:${existing.username}` });
  }

  async createInvitation(
    request: FastifyRequest,
    principal: Principal,
    body: InvitationCreateRequest,
  ): Promise<InvitationRecord> {
    this.requireAuthEnabled();
    const { store, audit } = this.options;
    const role = body.role ?? "user";
    if (!isAccountRole(role)) throw new InvalidInputError(`role: unknown role ${role}`, "role");
    if (!isRoleAtLeast(principal.role, "admin") && role !== "viewer") {
      throw new ForbiddenError(`role: operators may invite viewers only; ask an admin for a ${role} invitation`);
    }
    const groupId = body.group_id ?? null;
    if (groupId !== null && !(await store.auth.groupExists(groupId))) {
      throw new InvalidInputError(`group_id: group ${groupId} does not exist`, "group_id");
    }

    const expiresHours = body.expires_hours ?? this.options.config.INVITATION_EXPIRE_HOURS;
    const invitation = await store.auth.createInvitation({
      token: newSecret(),
      role,
      group_id: groupId,
      max_usage: body.max_usage ?? 1,
      expires_at: new Date(Date.now() + expiresHours * 3_600_000).toISOString(),
      created_by_id: principal.kind === "user" ? principal.id : null,
    });
    await audit.record(request, {
      action: "invitation.create",
      target: `invitation:${invitation.id}`,
      detail: { role, max_usage: invitation.max_usage, expires_hours: expiresHours },
    });
    return invitation;
  }

  async deleteInvitation(request: FastifyRequest, invitationId: number): Promise<void> {
    this.requireAuthEnabled();
    if (!(await this.options.store.auth.deleteInvitation(invitationId))) {
      throw new NotFoundError(`invitation ${invitationId} not found`);
    }
    await this.options.audit.record(request, { action: "invitation.revoke", target: `invitation:${invitationId}` });
  }

  /**
   * Returns an active admin account named `username`, creating it with an unusable random password when
   * it does not exist. `kohakuriver up` gives the local CLI a token of this account.
   */
  async ensureLocalAdmin(username: string): Promise<UserRecord> {
    const { store } = this.options;
    const existing = await store.auth.getUserByUsername(username);
    if (existing !== undefined) {
      if (existing.role !== "admin" || !existing.is_active) {
        throw new ConflictError(
          `account ${username} exists but is not an active admin; enable it and give it the admin role, or delete it`,
        );
      }
      return existing;
    }
    return store.auth.createUser({
      username,
      display_name: "local admin (kohakuriver up)",
      password_hash: await hashPassword(newSecret()),
      is_active: true,
      role: "admin",
    });
  }

  private async createSession(user: UserRecord): Promise<NewSession> {
    const { store, config } = this.options;
    const now = Date.now();
    const maxAgeSeconds = Math.round(config.SESSION_EXPIRE_HOURS * 3600);
    const sessionId = newSecret();
    await store.auth.deleteExpiredSessions(new Date(now).toISOString());
    await store.auth.createSession({
      session_id: sessionId,
      user_id: user.id,
      expires_at: new Date(now + maxAgeSeconds * 1000).toISOString(),
      created_at: new Date(now).toISOString(),
    });
    return { user, sessionId, maxAgeSeconds };
  }
}

/** Returns why an invitation cannot be used now, or null when it can. */
export function invitationProblem(invitation: InvitationRecord, now = Date.now()): string | null {
  if (Date.parse(invitation.expires_at) <= now) return `expired at ${invitation.expires_at}`;
  if (invitation.usage_count >= invitation.max_usage) return "has been used up";
  return null;
}

/** Returns the account id of a principal, or raises for the system pseudo-user, which owns no tokens. */
function requireAccount(principal: Principal): number {
  if (principal.kind !== "user") {
    throw new InvalidInputError(
      "the X-Admin-Token pseudo-user has no account, so it has no API tokens; log in as a user",
    );
  }
  return principal.id;
}
