/** The `kohakuriver config` command group. */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerConfigShow } from "./show.js";

export function registerConfigCommands(program: Command, runtime: CliRuntime): void {
  const config = program.command("config").summary("show the CLI's settings");
  registerConfigShow(config, runtime);
}
