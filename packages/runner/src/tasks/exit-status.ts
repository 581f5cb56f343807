/** Turns how a container ended into a task status and a message a user can act on. */

import type { TaskStatus } from "@kohakuriver/api";

export interface ContainerEnding {
  exitCode: number | null;
  oomKilled: boolean;
  killRequested: boolean;
  memoryLimitBytes: number | null;
  /** Docker's error for a container that could not start (executable not found …), empty otherwise. */
  startError: string;
  /** The last line the task wrote to stderr, if any. */
  lastStderrLine: string | null;
}

export function finalStatusOf(ending: ContainerEnding): { status: TaskStatus; message: string | null } {
  if (ending.killRequested) return { status: "killed", message: "Killed on request." };

  if (ending.oomKilled) {
    const limit =
      ending.memoryLimitBytes === null ? "its memory limit" : `its memory limit of ${ending.memoryLimitBytes} bytes`;
    return { status: "killed_oom", message: `Out of memory: the task exceeded ${limit} and was killed.` };
  }
  if (ending.startError !== "")
    return { status: "failed", message: `The container could not start: ${ending.startError}` };
  if (ending.exitCode === 0) return { status: "completed", message: null };

  const hint = ending.lastStderrLine === null ? "" : ` Last stderr line: ${ending.lastStderrLine.slice(0, 500)}`;
  if (ending.exitCode === 143) return { status: "failed", message: `Terminated by SIGTERM (exit code 143).${hint}` };
  if (ending.exitCode === 137)
    return { status: "failed", message: `Killed by SIGKILL (exit code 137), not by the memory limit.${hint}` };
  if (ending.exitCode === 127) return { status: "failed", message: `Command not found (exit code 127).${hint}` };
  if (ending.exitCode === null)
    return { status: "failed", message: `The container ended without an exit code.${hint}` };
  return { status: "failed", message: `Exited with code ${ending.exitCode}.${hint}` };
}

/**
 * Explains why a container could not start. Docker's text for a missing program is long and buried in
 * runtime details, so that case is rewritten to name the program, the image and the fix.
 */
export function describeStartError(engineMessage: string, image: string, program: string): string {
  if (/executable file not found|no such file or directory/i.test(engineMessage)) {
    return (
      `The command '${program}' was not found in image ${image}. Use an image or environment that provides it ` +
      `(for example --image python:3.12-slim), or give its full path. Docker reported: ${engineMessage}`
    );
  }
  if (/permission denied/i.test(engineMessage)) {
    return `The command '${program}' in image ${image} is not executable (permission denied). Docker reported: ${engineMessage}`;
  }
  return `The container could not start: ${engineMessage}`;
}
