/** `kohakuriver auth logout [--revoke]`: forget the stored token, and with --revoke delete it on the host. */

import { HostClient } from "@kohakuriver/api";
import type { Command } from "commander";

import { resolveHostSettings, type CliRuntime, type GlobalOptions } from "../../context.js";
import { credentialsFile, readCredentials, removeCredentials } from "../../credentials.js";
import { CliError } from "../../errors.js";

export function registerAuthLogout(auth: Command, runtime: CliRuntime): void {
  auth
    .command("logout")
    .summary("remove the stored API token from auth.json")
    .option("-r, --revoke", "also revoke the token on the host, so it stops working everywhere")
    .action(async (options: { revoke?: boolean }, command: Command) => {
      const { io, output } = runtime;
      const stored = readCredentials(io.env);
      if (stored === undefined) {
        output.note(`not logged in: ${credentialsFile(io.env)} does not exist`);
        return;
      }

      if (options.revoke === true) {
        if (stored.token_id === null) {
          throw new CliError(
            "the stored token has no id (it was given with --token), so it cannot be revoked from here; " +
              "revoke it with 'kohakuriver auth token list' and 'auth token revoke ID', then log out",
          );
        }
        const settings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), io.env);
        runtime.hostUrl = settings.url;
        await new HostClient({ baseUrl: stored.url ?? settings.url, token: stored.token }).revokeToken(stored.token_id);
        output.line(`token ${stored.token_id} (${stored.token_name ?? "unnamed"}) revoked`);
      }

      removeCredentials(io.env);
      output.line(`logged out${stored.username === null ? "" : ` ${stored.username}`}`);
    });
}
