/**
 * The cluster token: a random secret created at the host's first start and stored in a file readable
 * only by its owner. Runners present it on every call to the host and the host presents it to runners.
 */

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { writeFileAtomic } from "@kohakuriver/common";

export function loadOrCreateClusterToken(path: string): { token: string; created: boolean } {
  try {
    const token = readFileSync(path, "utf8").trim();
    if (token.length >= 32) return { token, created: false };
    throw new Error(`cluster token in ${path} is shorter than 32 characters; delete the file to create a new one`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = randomBytes(32).toString("hex");
  writeFileAtomic(path, `${token}\n`, 0o600);
  return { token, created: true };
}
