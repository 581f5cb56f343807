/** The `kohakuriver admin` command group: accounts, invitations and the audit log (admin or operator role). */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerAdminAudit } from "./audit.js";
import { registerAdminInvitations } from "./invitations.js";
import { registerAdminUsers } from "./users.js";

export function registerAdminCommands(program: Command, runtime: CliRuntime): void {
  const admin = program.command("admin").summary("manage accounts and invitations, read the audit log");

  registerAdminUsers(admin, runtime);
  registerAdminInvitations(admin, runtime);
  registerAdminAudit(admin, runtime);
}
