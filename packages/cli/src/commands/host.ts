/** `kohakuriver host`: run the host (API, scheduler, dispatcher) in the foreground until Ctrl-C. */

import { join } from "node:path";

import { createLogger, kohakuriverHome } from "@kohakuriver/common";
import type { Command } from "commander";

import type { CliRuntime } from "../context.js";
import { runUntilInterrupted, whenAborted } from "../interrupt.js";

export function registerHost(program: Command, runtime: CliRuntime): void {
  program
    .command("host")
    .summary("run the host: REST API, scheduler and dispatcher (stops on Ctrl-C or SIGTERM)")
    .option("-c, --config <path>", "host config file (default: ~/.kohakuriver/host.toml when it exists)")
    .option(
      "--insecure",
      "start with AUTH_ENABLED = false although HOST_BIND_IP is not a loopback address; anyone who reaches the host is admin",
    )
    .action(async (options: { config?: string; insecure?: boolean }) => {
      const { io, output } = runtime;
      runtime.portInUseHint =
        "set another port with HOST_PORT in the host config file or the KOHAKURIVER_HOST_PORT variable";
      // Loaded here, not at the top, so that client commands start without loading the host's modules.
      const { loadHostConfig, startHost } = await import("@kohakuriver/host");
      const defaultFile = join(kohakuriverHome(io.env), "host.toml");
      const { config, file } = loadHostConfig({ file: options.config, defaultFile, env: io.env });
      const logger = createLogger({
        name: "host",
        level: config.LOG_LEVEL,
        destination: output.logStream as NodeJS.WritableStream,
      });
      if (file === null) {
        output.note(
          `no config file at ${defaultFile}; using defaults and KOHAKURIVER_* variables (create one with 'kohakuriver init config --host')`,
        );
      }

      await runUntilInterrupted(io, async (signal) => {
        const handle = await startHost({ config, logger, insecure: options.insecure === true });
        output.note(
          `host ready at ${handle.url}; runners authenticate with the cluster token in ${handle.clusterTokenFile}`,
        );
        await whenAborted(signal);
        output.note("stopping the host; running tasks keep running");
        await handle.close();
      });
    });
}
