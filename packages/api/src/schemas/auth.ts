/** Bodies and responses of the account routes under /api/auth, and of the audit log. */

import { z } from "zod";

import { ACCOUNT_ROLES } from "../roles.js";
import { TimestampSchema } from "./common.js";

export const AccountRoleSchema = z.enum(ACCOUNT_ROLES, {
  error: `must be one of ${ACCOUNT_ROLES.join(", ")}`,
});

export const AuthStatusResponseSchema = z.object({
  auth_enabled: z.boolean(),
  session_expire_hours: z.number().nullable(),
});
export type AuthStatusResponse = z.infer<typeof AuthStatusResponseSchema>;

export const LoginRequestSchema = z.object({
  username: z.string().min(1, "must not be empty").max(50),
  password: z.string().min(1, "must not be empty").max(1024),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;

export const AccountRegisterRequestSchema = z.object({
  username: z
    .string()
    .min(3, "must be 3 to 50 characters")
    .max(50, "must be 3 to 50 characters")
    .regex(
      USERNAME_PATTERN,
      "may contain letters, digits, '_', '.', '@' and '-', and must start with a letter or digit",
    ),
  // bcrypt reads at most 72 bytes of a password, so a longer one would be silently cut.
  password: z.string().min(8, "must be at least 8 characters").max(72, "must be at most 72 characters"),
  display_name: z.string().max(100).nullable().optional(),
});
export type AccountRegisterRequest = z.infer<typeof AccountRegisterRequestSchema>;

export const AccountRegisterQuerySchema = z.object({
  token: z.string().min(1, "must not be empty: pass the invitation token as ?token=").max(200),
});

export const UserResponseSchema = z.object({
  id: z.number(),
  username: z.string(),
  display_name: z.string().nullable(),
  role: z.string(),
  is_active: z.boolean(),
  created_at: TimestampSchema,
});
export type UserResponse = z.infer<typeof UserResponseSchema>;

export const LoginResponseSchema = z.object({ message: z.string(), user: UserResponseSchema });
export type LoginResponse = z.infer<typeof LoginResponseSchema>;

export const UserUpdateRequestSchema = z
  .object({
    display_name: z.string().max(100).nullable().optional(),
    role: AccountRoleSchema.optional(),
    is_active: z.boolean().optional(),
  })
  .strict();
export type UserUpdateRequest = z.infer<typeof UserUpdateRequestSchema>;

export const UserIdParamsSchema = z.object({
  id: z.coerce.number({ error: "must be a user id, a whole number" }).int().min(1).max(2_147_483_647),
});

export const IdParamsSchema = z.object({
  id: z.coerce.number({ error: "must be a whole number" }).int().min(1).max(2_147_483_647),
});

export const TokenCreateRequestSchema = z.object({
  name: z.string().min(1, "must not be empty").max(100),
});

export const TokenResponseSchema = z.object({
  id: z.number(),
  name: z.string(),
  last_used: TimestampSchema.nullable(),
  created_at: TimestampSchema,
});
export type TokenResponse = z.infer<typeof TokenResponseSchema>;

/** A new API token; `token` is the secret, returned only in this response. */
export const TokenCreatedResponseSchema = TokenResponseSchema.extend({ token: z.string() });
export type TokenCreatedResponse = z.infer<typeof TokenCreatedResponseSchema>;

export const InvitationCreateRequestSchema = z.object({
  role: AccountRoleSchema.default("user"),
  group_id: z.number().int().min(1).nullable().optional(),
  max_usage: z.number().int().min(1).max(10_000).default(1),
  /** Hours until the invitation expires; the host's INVITATION_EXPIRE_HOURS when absent. */
  expires_hours: z.number().int().min(1, "must be 1 to 720 hours").max(720, "must be 1 to 720 hours").optional(),
});
export type InvitationCreateRequest = z.input<typeof InvitationCreateRequestSchema>;

export const InvitationResponseSchema = z.object({
  id: z.number(),
  token: z.string(),
  role: z.string(),
  group_id: z.number().nullable(),
  max_usage: z.number(),
  usage_count: z.number(),
  remaining_uses: z.number(),
  is_valid: z.boolean(),
  expires_at: TimestampSchema,
  created_by_id: z.number().nullable(),
  created_at: TimestampSchema,
});
export type InvitationResponse = z.infer<typeof InvitationResponseSchema>;

export const AuditEntrySchema = z.object({
  id: z.number(),
  created_at: TimestampSchema,
  actor_id: z.number().nullable(),
  actor_username: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  success: z.boolean(),
  ip: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export const AuditQuerySchema = z.object({
  action: z.string().max(100).optional(),
  actor: z.string().max(50).optional(),
  target: z.string().max(200).optional(),
  success: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
  since: z.iso.datetime({ offset: true, error: "must be an ISO-8601 time such as 2026-01-31T12:00:00Z" }).optional(),
  until: z.iso.datetime({ offset: true, error: "must be an ISO-8601 time such as 2026-01-31T12:00:00Z" }).optional(),
  limit: z.coerce.number({ error: "must be a whole number from 1 to 10000" }).int().min(1).max(10000).default(100),
  offset: z.coerce.number({ error: "must be a whole number, 0 or more" }).int().min(0).default(0),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;

export const RejectQuerySchema = z.object({
  reason: z.string().max(1000).optional(),
});
