/**
 * Secrets and hashes in the original's formats, so that its users and tokens can be imported: bcrypt
 * password hashes (12 rounds), API tokens stored as SHA3-512 hex, 32-byte hex session ids and tokens.
 */

import { createHash, randomBytes } from "node:crypto";

import bcrypt from "bcrypt";

export const BCRYPT_ROUNDS = 12;

/** A bcrypt hash of a random password, compared against when a username is unknown so timing reveals nothing. */
const DUMMY_HASH = bcrypt.hashSync(randomBytes(16).toString("hex"), BCRYPT_ROUNDS);

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_ROUNDS);
}

/** Checks a password against a bcrypt hash; without a hash it spends the same time and returns false. */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  if (hash === undefined) {
    await bcrypt.compare(password, DUMMY_HASH);
    return false;
  }
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    // A malformed hash in an imported row matches no password.
    return false;
  }
}

/** Returns SHA3-512 of an API token as 128 lowercase hex digits, the form stored in `tokens.token_hash`. */
export function hashApiToken(token: string): string {
  return createHash("sha3-512").update(token, "utf8").digest("hex");
}

/** Returns 32 random bytes as 64 hex digits: API tokens, session ids and invitation tokens. */
export function newSecret(): string {
  return randomBytes(32).toString("hex");
}
