/**
 * `kohakuriver auth login`: log in with a password and store a new API token for this CLI, or store a
 * token given with --token after checking it.
 */

import { HostClient } from "@kohakuriver/api";
import type { Command } from "commander";

import { resolveHostSettings, type CliRuntime, type GlobalOptions } from "../../context.js";
import { writeCredentials } from "../../credentials.js";
import { readLogin, storeTokenFromSession } from "./session-token.js";

interface LoginOptions {
  username?: string;
  password?: string;
  token?: string;
  tokenName: string;
}

export function registerAuthLogin(auth: Command, runtime: CliRuntime): void {
  auth
    .command("login")
    .summary("log in and store an API token for this CLI in auth.json")
    .option("-u, --username <name>", "account name (asked when missing)")
    .option("-p, --password <password>", "password (asked without echo when missing; env KOHAKURIVER_PASSWORD)")
    .option("-t, --token <token>", "store this existing API token instead of logging in with a password")
    .option("--token-name <name>", "name of the API token created for this CLI", "cli-auto")
    .action(async (options: LoginOptions, command: Command) => {
      const { io, output } = runtime;
      const settings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), io.env);
      runtime.hostUrl = settings.url;

      if (options.token !== undefined) {
        const user = await new HostClient({ baseUrl: settings.url, token: options.token }).me();
        const file = writeCredentials(io.env, {
          token: options.token,
          token_id: null,
          token_name: null,
          username: user.username,
          role: user.role,
          url: settings.url,
        });
        output.line(`logged in to ${settings.url} as ${user.username} (${user.role}); token stored in ${file}`);
        return;
      }

      const { username, password } = await readLogin(io, options);
      const login = await new HostClient({ baseUrl: settings.url }).login(username, password);
      const file = await storeTokenFromSession(io, settings.url, login, options.tokenName);
      output.line(
        `logged in to ${settings.url} as ${login.user.username} (${login.user.role}); token stored in ${file}`,
      );
    });
}
