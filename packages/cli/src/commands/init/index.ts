/** The `kohakuriver init` command group. */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerInitConfig } from "./config.js";

export function registerInitCommands(program: Command, runtime: CliRuntime): void {
  const init = program.command("init").summary("create configuration files");
  registerInitConfig(init, runtime);
}
