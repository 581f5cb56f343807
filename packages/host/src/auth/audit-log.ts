/** Writes audit entries: who did what to which target, from which address, and whether it succeeded. */

import type { Logger } from "@kohakuriver/common";
import type { FastifyRequest } from "fastify";

import type { Store } from "../store/types.js";
import type { Principal } from "./principal.js";

export interface AuditEvent {
  action: string;
  /** The object of the action, such as `task:7263012345678901248` or `user:alice`. */
  target?: string | null;
  success?: boolean;
  detail?: Record<string, unknown>;
  /** The acting account when it is not the request's principal (a login names the account it tried). */
  actor?: { id: number | null; username: string | null };
}

export class AuditLog {
  /**
   * With `enabled` false (AUTH_ENABLED off) nothing is recorded: there are no accounts, so every entry
   * would name the same pseudo-user while adding a database write to every submission.
   */
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly enabled = true,
  ) {}

  /**
   * Appends an entry. A failure to write it is logged and not raised, because the action it describes
   * has already happened and its response must still be sent.
   */
  async record(request: FastifyRequest | null, event: AuditEvent): Promise<void> {
    if (!this.enabled) return;
    const principal: Principal | undefined = request?.principal ?? undefined;
    const actor = event.actor ?? {
      id: principal === undefined || principal.kind === "anonymous" ? null : principal.id,
      username: principal === undefined || principal.kind === "anonymous" ? null : principal.username,
    };
    const entry = {
      actor_id: actor.id,
      actor_username: actor.username,
      action: event.action,
      target: event.target ?? null,
      success: event.success ?? true,
      ip: request?.ip ?? null,
      detail: event.detail ?? {},
    };
    try {
      await this.store.auth.appendAudit(entry);
    } catch (error) {
      this.logger.error({ err: error, action: entry.action, target: entry.target }, "failed to write audit entry");
    }
  }
}
