/** `kohakuriver auth status`: whether the host has authentication on, and who the stored token belongs to. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { credentialsFile, readCredentials } from "../../credentials.js";

export function registerAuthStatus(auth: Command, runtime: CliRuntime): void {
  auth
    .command("status")
    .summary("show whether authentication is on and which account this CLI acts as")
    .action(async (_options: unknown, command: Command) => {
      const { io, output } = runtime;
      const client = createClient(command, runtime);
      const status = await client.authStatus();
      if (!status.auth_enabled) {
        output.line(`authentication is disabled on ${client.baseUrl}: every caller acts as admin`);
        return;
      }

      const stored = readCredentials(io.env);
      if (stored === undefined && io.env.KOHAKURIVER_TOKEN === undefined) {
        output.line(`not logged in to ${client.baseUrl}; log in with 'kohakuriver auth login'`);
        return;
      }
      const user = await client.me();
      output.details([
        ["host", client.baseUrl],
        ["username", user.username],
        ["role", user.role],
        ["token", stored?.token_name ?? (io.env.KOHAKURIVER_TOKEN === undefined ? "-" : "KOHAKURIVER_TOKEN")],
        ["credentials", credentialsFile(io.env)],
      ]);
    });
}
