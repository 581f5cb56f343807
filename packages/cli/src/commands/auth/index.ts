/** The `kohakuriver auth` command group: log in and out, show the account, manage API tokens. */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerAuthLogin } from "./login.js";
import { registerAuthLogout } from "./logout.js";
import { registerAuthRegister } from "./register.js";
import { registerAuthStatus } from "./status.js";
import { registerAuthToken } from "./token.js";

export function registerAuthCommands(program: Command, runtime: CliRuntime): void {
  const auth = program
    .command("auth")
    .summary("log in and out, show the current account, manage API tokens")
    .addHelpText(
      "after",
      "\nCredentials are kept in auth.json in KOHAKURIVER_HOME (default ~/.kohakuriver), mode 0600.",
    );

  registerAuthLogin(auth, runtime);
  registerAuthLogout(auth, runtime);
  registerAuthStatus(auth, runtime);
  registerAuthRegister(auth, runtime);
  registerAuthToken(auth, runtime);
}
