/** `kohakuriver down`: stop the `kohakuriver up` process of a data directory. */

import { kohakuriverHome, sleep } from "@kohakuriver/common";
import type { Command } from "commander";

import type { CliRuntime } from "../context.js";
import { CliError } from "../errors.js";
import { isKohakuriverProcess, readPidFile, removeFile, upPidFile } from "../pid-file.js";

/** How long `down` waits for the process to exit after SIGTERM. */
export const STOP_TIMEOUT_MS = 15_000;

export function registerDown(program: Command, runtime: CliRuntime): void {
  program
    .command("down")
    .summary("stop the host and runner started by 'kohakuriver up'")
    .option(
      "--data-dir <dir>",
      "data directory given to 'kohakuriver up' (default: KOHAKURIVER_HOME or ~/.kohakuriver)",
    )
    .action(async (options: { dataDir?: string }) => {
      const { output } = runtime;
      const dataDir = options.dataDir ?? kohakuriverHome(runtime.io.env);
      const pidFile = upPidFile(dataDir);
      const state = readPidFile(pidFile);

      if (state.kind === "absent") {
        output.line(`nothing to stop: no 'kohakuriver up' is running for ${dataDir}`);
        return;
      }
      if (state.kind === "stale") {
        removeFile(pidFile);
        output.line(`nothing to stop: 'kohakuriver up' for ${dataDir} is not running (removed its stale pid file)`);
        return;
      }

      output.note(`stopping kohakuriver up (pid ${state.pid})...`);
      process.kill(state.pid, "SIGTERM");
      if (!(await waitForExit(state.pid, STOP_TIMEOUT_MS))) {
        throw new CliError(
          `pid ${state.pid} is still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM; ` +
            `check its terminal or log, or end it with 'kill -9 ${state.pid}'`,
        );
      }
      output.line(`stopped kohakuriver up (pid ${state.pid})`);
    });
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isKohakuriverProcess(pid)) return true;
    await sleep(100);
  }
  return !isKohakuriverProcess(pid);
}
