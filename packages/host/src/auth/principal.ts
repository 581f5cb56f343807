/** The caller of a request: an account, the system (auth disabled or the admin secret), or an anonymous caller. */

import { ForbiddenError, isRoleAtLeast, type Role } from "@kohakuriver/api";

import type { UserRecord } from "../store/auth-types.js";

export interface Principal {
  kind: "system" | "user" | "anonymous";
  /** The account id; 0 for the system and -1 for an anonymous caller, as in the original. */
  id: number;
  username: string;
  role: Role;
  via: "auth-disabled" | "admin-secret" | "session" | "token" | "none";
  /** The API token that authenticated the request. */
  tokenId?: number;
  /** The session that authenticated the request. */
  sessionId?: string;
  /** The reason the credentials sent with the request were rejected, for the 401 detail. */
  rejectedBecause?: string;
}

export const SYSTEM_USERNAME = "_system";

export function systemPrincipal(via: "auth-disabled" | "admin-secret"): Principal {
  return { kind: "system", id: 0, username: SYSTEM_USERNAME, role: "admin", via };
}

export function anonymousPrincipal(rejectedBecause?: string): Principal {
  return {
    kind: "anonymous",
    id: -1,
    username: "_anonymous",
    role: "anony",
    via: "none",
    ...(rejectedBecause === undefined ? {} : { rejectedBecause }),
  };
}

export function userPrincipal(
  user: UserRecord,
  via: "session" | "token",
  credential: { tokenId?: number; sessionId?: string },
): Principal {
  return {
    kind: "user",
    id: user.id,
    username: user.username,
    role: user.role as Role,
    via,
    ...credential,
  };
}

/** Returns the owner id stored on records a principal creates: null unless an account created them. */
export function ownerIdOf(principal: Principal): number | null {
  return principal.kind === "user" ? principal.id : null;
}

/** Returns what a task records about the principal that submits or approves it. */
export function taskActorOf(principal: Principal): { accountId: number | null; needsApproval: boolean } {
  return { accountId: ownerIdOf(principal), needsApproval: principal.kind === "user" && principal.role === "user" };
}

/** Raises ForbiddenError unless an admin requests a privileged container or extra host mounts. */
export function requireAdminForHostAccess(
  principal: Principal,
  request: { privileged: boolean | null; additional_mounts: readonly string[] | null },
): void {
  if (isRoleAtLeast(principal.role, "admin")) return;
  if (request.privileged === true) {
    throw new ForbiddenError("privileged: privileged containers need the admin role; drop the option");
  }
  if ((request.additional_mounts?.length ?? 0) > 0) {
    throw new ForbiddenError("additional_mounts: extra host mounts need the admin role; drop the option");
  }
}
