/**
 * Account roles, ordered by privilege: each role may do everything the roles before it may do.
 * `anony` is the role of a caller without valid credentials and is never stored on an account.
 */

export const ROLES = ["anony", "viewer", "user", "operator", "admin"] as const;

export type Role = (typeof ROLES)[number];

/** Roles that an account can hold. */
export const ACCOUNT_ROLES = ["viewer", "user", "operator", "admin"] as const;

export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isAccountRole(value: string): value is AccountRole {
  return (ACCOUNT_ROLES as readonly string[]).includes(value);
}

/** True when `role` is `minimum` or ranks above it. An unknown role ranks below every known one. */
export function isRoleAtLeast(role: string, minimum: Role): boolean {
  const rank = (ROLES as readonly string[]).indexOf(role);
  return rank >= 0 && rank >= ROLES.indexOf(minimum);
}
