/** `kohakuriver runner`: run a runner (node agent) in the foreground until Ctrl-C. */

import { join } from "node:path";

import { createLogger, kohakuriverHome } from "@kohakuriver/common";
import type { Command } from "commander";

import type { CliRuntime } from "../context.js";
import { runUntilInterrupted, whenAborted } from "../interrupt.js";

export function registerRunner(program: Command, runtime: CliRuntime): void {
  program
    .command("runner")
    .summary("run a runner on this node: registers with the host and runs tasks in Docker (stops on Ctrl-C or SIGTERM)")
    .option("-c, --config <path>", "runner config file (default: ~/.kohakuriver/runner.toml when it exists)")
    .action(async (options: { config?: string }) => {
      const { io, output } = runtime;
      runtime.portInUseHint =
        "set another port with RUNNER_PORT in the runner config file or the KOHAKURIVER_RUNNER_PORT variable";
      // Loaded here, not at the top, so that client commands start without loading the runner's modules.
      const { loadRunnerConfig, startRunner } = await import("@kohakuriver/runner");
      const defaultFile = join(kohakuriverHome(io.env), "runner.toml");
      const { config, file } = loadRunnerConfig({ file: options.config, defaultFile, env: io.env });
      const logger = createLogger({
        name: "runner",
        level: config.LOG_LEVEL,
        destination: output.logStream as NodeJS.WritableStream,
      });
      if (file === null) {
        output.note(
          `no config file at ${defaultFile}; using defaults and KOHAKURIVER_* variables (create one with 'kohakuriver init config --runner')`,
        );
      }

      await runUntilInterrupted(io, async (signal) => {
        const handle = await startRunner({ config, logger });
        output.note(`runner ${handle.nodeName} ready at ${handle.url}`);
        await whenAborted(signal);
        output.note("stopping the runner; its containers keep running and are adopted at the next start");
        await handle.close();
      });
    });
}
