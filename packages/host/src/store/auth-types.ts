/** Records and the store interface for accounts, sessions, API tokens, invitations and the audit log. */

export interface UserRecord {
  id: number;
  username: string;
  display_name: string | null;
  /** bcrypt hash (`$2b$…`), as the original stored it. */
  password_hash: string;
  is_active: boolean;
  role: string;
  created_at: string;
}

export type NewUser = Omit<UserRecord, "id" | "created_at">;

export type UserUpdate = Partial<Pick<UserRecord, "display_name" | "role" | "is_active" | "password_hash">>;

export interface SessionRecord {
  id: number;
  session_id: string;
  user_id: number;
  expires_at: string;
  created_at: string;
}

export interface TokenRecord {
  id: number;
  user_id: number;
  token_hash: string;
  name: string;
  last_used: string | null;
  created_at: string;
}

export interface InvitationRecord {
  id: number;
  token: string;
  role: string;
  group_id: number | null;
  max_usage: number;
  usage_count: number;
  expires_at: string;
  created_by_id: number | null;
  created_at: string;
}

export type NewInvitation = Omit<InvitationRecord, "id" | "usage_count" | "created_at">;

export interface VpsAssignmentRecord {
  vps_task_id: string;
  user_id: number;
  username: string;
  display_name: string | null;
  created_at: string;
}

export interface AuditRecord {
  id: number;
  created_at: string;
  actor_id: number | null;
  actor_username: string | null;
  action: string;
  target: string | null;
  success: boolean;
  ip: string | null;
  detail: Record<string, unknown>;
}

export type NewAuditRecord = Omit<AuditRecord, "id" | "created_at"> & { created_at?: string };

export interface AuditFilter {
  action?: string;
  actorUsername?: string;
  target?: string;
  success?: boolean;
  /** Entries at or after this ISO-8601 time. */
  since?: string;
  /** Entries before this ISO-8601 time. */
  until?: string;
  limit?: number;
  offset?: number;
}

export interface AuthStore {
  /** Inserts a user; throws ConflictError when the username is taken. */
  createUser(user: NewUser): Promise<UserRecord>;
  /**
   * Inserts a user and counts one use of the invitation, in one transaction. Throws ConflictError when
   * the username is taken or the invitation is used up or expired at `now`; then nothing is written.
   */
  createUserWithInvitation(user: NewUser, invitationId: number, now: string): Promise<UserRecord>;
  getUser(id: number): Promise<UserRecord | undefined>;
  getUserByUsername(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Returns the updated user, or undefined when it does not exist. */
  updateUser(id: number, update: UserUpdate): Promise<UserRecord | undefined>;
  /** Deletes a user with its sessions, tokens and VPS assignments; returns false when it did not exist. */
  deleteUser(id: number): Promise<boolean>;

  createSession(session: Omit<SessionRecord, "id">): Promise<void>;
  getSession(sessionId: string): Promise<SessionRecord | undefined>;
  deleteSession(sessionId: string): Promise<void>;
  /** Deletes every session that expired before `now`; returns how many. */
  deleteExpiredSessions(now: string): Promise<number>;

  createToken(token: Omit<TokenRecord, "id" | "last_used">): Promise<TokenRecord>;
  getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined>;
  /** Tokens of one user, newest first. */
  listTokens(userId: number): Promise<TokenRecord[]>;
  /** Deletes a token of `userId`; returns false when that user has no token with this id. */
  deleteToken(id: number, userId: number): Promise<boolean>;
  touchToken(id: number, lastUsed: string): Promise<void>;

  createInvitation(invitation: NewInvitation): Promise<InvitationRecord>;
  getInvitationByToken(token: string): Promise<InvitationRecord | undefined>;
  listInvitations(): Promise<InvitationRecord[]>;
  deleteInvitation(id: number): Promise<boolean>;
  groupExists(id: number): Promise<boolean>;

  /** Assigns users to a VPS; users already assigned are skipped. */
  assignVps(taskId: string, userIds: readonly number[], now: string): Promise<void>;
  unassignVps(taskId: string, userId: number): Promise<boolean>;
  listVpsAssignments(taskId: string): Promise<VpsAssignmentRecord[]>;
  isAssignedToVps(taskId: string, userId: number): Promise<boolean>;

  appendAudit(entry: NewAuditRecord): Promise<void>;
  /** Audit entries, newest first. */
  listAudit(filter?: AuditFilter): Promise<AuditRecord[]>;
}
