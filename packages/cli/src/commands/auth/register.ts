/** `kohakuriver auth register`: create an account with an invitation token and log in as it. */

import { HostClient } from "@kohakuriver/api";
import type { Command } from "commander";

import { resolveHostSettings, type CliRuntime, type GlobalOptions } from "../../context.js";
import { readLogin, storeTokenFromSession } from "./session-token.js";

interface RegisterOptions {
  invite: string;
  username?: string;
  password?: string;
  displayName?: string;
  tokenName: string;
}

export function registerAuthRegister(auth: Command, runtime: CliRuntime): void {
  auth
    .command("register")
    .summary("create an account with an invitation token (or ADMIN_REGISTER_SECRET) and log in")
    .requiredOption("-i, --invite <token>", "invitation token from an admin or operator")
    .option("-u, --username <name>", "account name, 3 to 50 characters (asked when missing)")
    .option("-p, --password <password>", "password, 8 to 72 characters (asked without echo when missing)")
    .option("--display-name <name>", "display name (default: the username)")
    .option("--token-name <name>", "name of the API token created for this CLI", "cli-auto")
    .action(async (options: RegisterOptions, command: Command) => {
      const { io, output } = runtime;
      const settings = resolveHostSettings(command.optsWithGlobals<GlobalOptions>(), io.env);
      runtime.hostUrl = settings.url;
      const { username, password } = await readLogin(io, options);
      const registered = await new HostClient({ baseUrl: settings.url }).register(options.invite, {
        username,
        password,
        ...(options.displayName === undefined ? {} : { display_name: options.displayName }),
      });
      const file = await storeTokenFromSession(io, settings.url, registered, options.tokenName);
      output.line(
        `account ${registered.user.username} (${registered.user.role}) created on ${settings.url}; token stored in ${file}`,
      );
    });
}
