import { homedir } from "node:os";
import { join } from "node:path";

/** Returns the per-user directory for configs, credentials and `kohakuriver up` data: KOHAKURIVER_HOME or ~/.kohakuriver. */
export function kohakuriverHome(env: Record<string, string | undefined> = process.env): string {
  return env.KOHAKURIVER_HOME ?? join(homedir(), ".kohakuriver");
}
