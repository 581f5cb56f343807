/**
 * Builds the `kohakuriver` command tree and runs it on an argument list. `runCli` returns the exit code
 * instead of exiting, so tests run the real CLI in-process with captured output.
 */

import { Command } from "commander";

import { registerAdminCommands } from "./commands/admin/index.js";
import { registerAuthCommands } from "./commands/auth/index.js";
import { registerConfigCommands } from "./commands/config/index.js";
import { registerConnect } from "./commands/connect.js";
import { registerDockerCommands } from "./commands/docker/index.js";
import { registerDown } from "./commands/down.js";
import { registerForward } from "./commands/forward.js";
import { registerFsCommands } from "./commands/fs/index.js";
import { registerHost } from "./commands/host.js";
import { registerInitCommands } from "./commands/init/index.js";
import { registerNodeCommands } from "./commands/node/index.js";
import { registerRunner } from "./commands/runner.js";
import { registerSshCommands } from "./commands/ssh/index.js";
import { registerTaskCommands } from "./commands/task/index.js";
import { registerVpsCommands } from "./commands/vps/index.js";
import { registerUp } from "./commands/up.js";
import { registerVersion } from "./commands/version.js";
import type { CliIo, CliRuntime } from "./context.js";
import { EXIT_OK, reportError } from "./errors.js";
import { Output } from "./output.js";
import { cliVersion } from "./version.js";

/**
 * Runs the CLI on `argv`, the arguments after the program name (process.argv.slice(2)).
 * Returns the exit code. The streams and environment default to the process's own.
 */
export async function runCli(argv: string[], io?: Partial<CliIo>): Promise<number> {
  const resolvedIo: CliIo = {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    env: io?.env ?? process.env,
    ...(io?.signal === undefined ? {} : { signal: io.signal }),
  };
  const output = new Output(resolvedIo.stdout, resolvedIo.stderr, resolvedIo.env);
  const runtime: CliRuntime = { io: resolvedIo, output, exitCode: EXIT_OK, hostUrl: undefined };
  const program = buildProgram(runtime);

  try {
    await program.parseAsync(argv, { from: "user" });
    return runtime.exitCode;
  } catch (error) {
    const debug = program.opts<{ debug?: boolean }>().debug === true || argv.includes("--debug");
    return reportError(error, output, { hostUrl: runtime.hostUrl, debug, portInUseHint: runtime.portInUseHint });
  }
}

/** Commander's message for a global option written after the command, where it is not recognized. */
const GLOBAL_OPTION_ERROR = /^error: unknown option '(-H|-P|--host|--port|--debug)(=.*)?'/;

export function buildProgram(runtime: CliRuntime): Command {
  const { output } = runtime;
  const program = new Command("kohakuriver");

  program
    .description(
      "Command-line client of KohakuRiver, a cluster manager that runs command tasks and VPS sessions in Docker containers on your nodes.",
    )
    .option("-H, --host <host>", "host address (env KOHAKURIVER_HOST, default localhost)")
    .option("-P, --port <port>", "host API port (env KOHAKURIVER_PORT, default 8000)")
    .option("--debug", "print stack traces of errors")
    .version(cliVersion(), "--version", "print the CLI version")
    // Global options go before the command, so that `task submit -- CMD` and options after the
    // first command word (`task submit python train.py -c 1`) reach the task untouched.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.stdout.write(text),
      writeErr: (text) => output.stderr.write(text),
      outputError: (text, write) => {
        write(text.replace(/^error:/, output.errorColors.red("error:")));
        if (GLOBAL_OPTION_ERROR.test(text)) {
          output.hint("global options go before the command, for example: kohakuriver -H head -P 8000 task list");
        }
      },
    })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      "\nStart here:\n" +
        "  kohakuriver up                                  a host and a runner on this machine\n" +
        "  kohakuriver task submit --wait -- echo hello    run a command on the cluster\n" +
        "  kohakuriver node list                           nodes and their load",
    );

  registerUp(program, runtime);
  registerDown(program, runtime);
  registerTaskCommands(program, runtime);
  registerVpsCommands(program, runtime);
  registerSshCommands(program, runtime);
  registerConnect(program, runtime);
  registerForward(program, runtime);
  registerFsCommands(program, runtime);
  registerNodeCommands(program, runtime);
  registerAuthCommands(program, runtime);
  registerAdminCommands(program, runtime);
  registerDockerCommands(program, runtime);
  registerHost(program, runtime);
  registerRunner(program, runtime);
  registerInitCommands(program, runtime);
  registerConfigCommands(program, runtime);
  registerVersion(program, runtime);
  return program;
}
