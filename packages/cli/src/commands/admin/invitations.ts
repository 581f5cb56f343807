/** `kohakuriver admin invite create|list|revoke`: invitations that let people create accounts. */

import { ACCOUNT_ROLES, isAccountRole } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { UsageError } from "../../errors.js";
import { parseInteger } from "../../options.js";

interface CreateOptions {
  role: string;
  maxUsage: string;
  expiresHours?: string;
}

export function registerAdminInvitations(admin: Command, runtime: CliRuntime): void {
  const invite = admin.command("invite").summary("create, list and revoke invitations");
  const { output } = runtime;

  invite
    .command("create")
    .summary("create an invitation; operators may invite viewers only")
    .option("--role <role>", `role of the accounts it creates: ${ACCOUNT_ROLES.join(", ")}`, "user")
    .option("--max-usage <n>", "how many accounts it may create", "1")
    .option("--expires-hours <hours>", "hours until it expires, 1 to 720 (default: the host's INVITATION_EXPIRE_HOURS)")
    .action(async (options: CreateOptions, command: Command) => {
      if (!isAccountRole(options.role)) {
        throw new UsageError(`invalid role '${options.role}' for --role: use one of ${ACCOUNT_ROLES.join(", ")}`);
      }
      const invitation = await createClient(command, runtime).createInvitation({
        role: options.role,
        max_usage: parseInteger(options.maxUsage, "--max-usage", 1, "accounts"),
        ...(options.expiresHours === undefined
          ? {}
          : { expires_hours: parseInteger(options.expiresHours, "--expires-hours", 1, "hours") }),
      });
      output.note(
        `invitation ${invitation.id} for ${invitation.max_usage} ${invitation.role} account(s), valid until ${invitation.expires_at}; ` +
          "register with: kohakuriver auth register --invite <token>",
      );
      output.line(invitation.token);
    });

  invite
    .command("list")
    .summary("list invitations (admin)")
    .option("--json", "print the API's invitation objects as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const invitations = await createClient(command, runtime).listInvitations();
      if (options.json === true) {
        output.json(invitations);
        return;
      }
      output.table(
        ["ID", "ROLE", "USES LEFT", "VALID", "EXPIRES", "TOKEN"],
        invitations.map((item) => [
          String(item.id),
          item.role,
          String(item.remaining_uses),
          item.is_valid ? "yes" : "no",
          item.expires_at,
          item.token,
        ]),
      );
    });

  invite
    .command("revoke")
    .summary("revoke an invitation (admin)")
    .argument("<id>", "invitation id, from 'admin invite list'")
    .action(async (id: string, _options: unknown, command: Command) => {
      const response = await createClient(command, runtime).deleteInvitation(
        parseInteger(id, "<id>", 1, "invitation id"),
      );
      output.line(response.message);
    });
}
