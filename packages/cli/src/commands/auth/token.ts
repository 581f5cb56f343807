/** `kohakuriver auth token list|create|revoke`: the API tokens of the current account. */

import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { parseInteger } from "../../options.js";

export function registerAuthToken(auth: Command, runtime: CliRuntime): void {
  const token = auth.command("token").summary("list, create and revoke API tokens of the current account");

  token
    .command("list")
    .summary("list your API tokens (the secrets are never shown again)")
    .option("--json", "print the API's token objects as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const tokens = await createClient(command, runtime).listTokens();
      if (options.json === true) {
        runtime.output.json(tokens);
        return;
      }
      if (tokens.length === 0) {
        runtime.output.note("no API tokens");
        return;
      }
      runtime.output.table(
        ["ID", "NAME", "LAST USED", "CREATED"],
        tokens.map((item) => [String(item.id), item.name, item.last_used ?? "never", item.created_at]),
      );
    });

  token
    .command("create")
    .summary("create an API token; it is printed once, so store it now")
    .argument("<name>", "a name that says where the token is used, 1 to 100 characters")
    .action(async (name: string, _options: unknown, command: Command) => {
      const created = await createClient(command, runtime).createToken(name);
      runtime.output.note(`token ${created.id} (${created.name}) created; it is shown only this once:`);
      runtime.output.line(created.token);
    });

  token
    .command("revoke")
    .summary("revoke one of your API tokens; requests with it are refused from then on")
    .argument("<id>", "token id, from 'auth token list'")
    .action(async (id: string, _options: unknown, command: Command) => {
      const response = await createClient(command, runtime).revokeToken(parseInteger(id, "<id>", 1, "token id"));
      runtime.output.line(response.message);
    });
}
