/** `kohakuriver admin user list|set-role|enable|disable|delete`: account management. */

import { ACCOUNT_ROLES, isAccountRole, type UserResponse } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { UsageError } from "../../errors.js";
import { parseInteger } from "../../options.js";

export function registerAdminUsers(admin: Command, runtime: CliRuntime): void {
  const user = admin.command("user").summary("list accounts, change their role, enable, disable or delete them");
  const { output } = runtime;

  user
    .command("list")
    .summary("list accounts, newest first (operator or admin)")
    .option("--json", "print the API's user objects as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const users = await createClient(command, runtime).listUsers();
      if (options.json === true) {
        output.json(users);
        return;
      }
      output.table(
        ["ID", "USERNAME", "ROLE", "ACTIVE", "DISPLAY NAME", "CREATED"],
        users.map((item) => [
          String(item.id),
          item.username,
          item.role,
          item.is_active ? "yes" : "no",
          item.display_name ?? "",
          item.created_at,
        ]),
      );
    });

  user
    .command("set-role")
    .summary(`change an account's role: ${ACCOUNT_ROLES.join(", ")} (admin)`)
    .argument("<id>", "user id, from 'admin user list'")
    .argument("<role>", ACCOUNT_ROLES.join(", "))
    .action(async (id: string, role: string, _options: unknown, command: Command) => {
      if (!isAccountRole(role)) throw new UsageError(`invalid role '${role}': use one of ${ACCOUNT_ROLES.join(", ")}`);
      const updated = await createClient(command, runtime).updateUser(parseUserId(id), { role });
      output.line(describe(updated));
    });

  for (const action of ["enable", "disable"] as const) {
    user
      .command(action)
      .summary(
        action === "enable"
          ? "let an account log in again (admin)"
          : "stop an account from logging in and using its tokens (admin)",
      )
      .argument("<id>", "user id, from 'admin user list'")
      .action(async (id: string, _options: unknown, command: Command) => {
        const updated = await createClient(command, runtime).updateUser(parseUserId(id), {
          is_active: action === "enable",
        });
        output.line(describe(updated));
      });
  }

  user
    .command("delete")
    .summary("delete an account with its sessions, tokens and VPS assignments (admin)")
    .argument("<id>", "user id, from 'admin user list'")
    .action(async (id: string, _options: unknown, command: Command) => {
      const response = await createClient(command, runtime).deleteUser(parseUserId(id));
      output.line(response.message);
    });
}

function parseUserId(text: string): number {
  return parseInteger(text, "<id>", 1, "user id");
}

function describe(user: UserResponse): string {
  return `user ${user.id} ${user.username}: role ${user.role}, ${user.is_active ? "active" : "disabled"}`;
}
