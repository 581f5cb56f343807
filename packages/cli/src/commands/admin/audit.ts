/** `kohakuriver admin audit`: the audit log, newest first (admin). */

import type { AuditQuery } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { parseInteger } from "../../options.js";

interface AuditOptions {
  action?: string;
  actor?: string;
  target?: string;
  failed?: boolean;
  since?: string;
  until?: string;
  limit: string;
  json?: boolean;
}

export function registerAdminAudit(admin: Command, runtime: CliRuntime): void {
  admin
    .command("audit")
    .summary("show the audit log, newest first (admin)")
    .option("--action <action>", "only this action, such as auth.login_failed, task.submit or user.role_change")
    .option("--actor <username>", "only actions of this account")
    .option("--target <target>", "only this target, such as task:7263012345678901248 or user:alice")
    .option("--failed", "only failed actions")
    .option("--since <time>", "only entries at or after this ISO-8601 time, such as 2026-01-31T12:00:00Z")
    .option("--until <time>", "only entries before this ISO-8601 time")
    .option("-l, --limit <n>", "entries at most", "50")
    .option("--json", "print the API's audit entries as JSON")
    .action(async (options: AuditOptions, command: Command) => {
      const query: AuditQuery = { limit: parseInteger(options.limit, "--limit", 1, "entries") };
      if (options.action !== undefined) query.action = options.action;
      if (options.actor !== undefined) query.actor = options.actor;
      if (options.target !== undefined) query.target = options.target;
      if (options.failed === true) query.success = "false";
      if (options.since !== undefined) query.since = options.since;
      if (options.until !== undefined) query.until = options.until;

      const entries = await createClient(command, runtime).listAudit(query);
      if (options.json === true) {
        runtime.output.json(entries);
        return;
      }
      runtime.output.table(
        ["TIME", "ACTOR", "ACTION", "TARGET", "OK", "ADDRESS"],
        entries.map((entry) => [
          entry.created_at,
          entry.actor_username ?? "-",
          entry.action,
          entry.target ?? "-",
          entry.success ? "yes" : "no",
          entry.ip ?? "-",
        ]),
      );
    });
}
