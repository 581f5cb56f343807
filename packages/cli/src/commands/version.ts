/** `kohakuriver version`: the CLI's version and the Node.js it runs on. */

import type { Command } from "commander";

import type { CliRuntime } from "../context.js";
import { cliVersion } from "../version.js";

export function registerVersion(program: Command, runtime: CliRuntime): void {
  program
    .command("version")
    .summary("print the CLI version")
    .action(() => {
      runtime.output.line(`kohakuriver ${cliVersion()} (Node.js ${process.version})`);
    });
}
