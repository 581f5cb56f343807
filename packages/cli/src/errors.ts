/**
 * Failure reporting of the CLI: the exit code and the text for every kind of error, in one place.
 *
 * Mistakes in the user's input (bad options, 4xx responses from the host, invalid config files) print one
 * plain `error:` line. An unreachable host gets a line saying how to start or find one. System errors (a
 * port in use, a permission denied) and host failures (5xx) get a hint about the cause. Anything else is a
 * bug, so it also prints a hint to rerun with --debug, which adds the stack trace.
 */

import { KohakuRiverError, UnavailableError } from "@kohakuriver/api";
import { ConfigError, describeNetworkError } from "@kohakuriver/common";
import { CommanderError } from "commander";

import type { Output } from "./output.js";

export const EXIT_OK = 0;
/** An API error, an unreachable host or an unexpected failure. */
export const EXIT_FAILURE = 1;
/** Invalid command-line usage: an unknown option, a missing argument or an invalid value. */
export const EXIT_USAGE = 2;

/** Invalid user input. The message names the option and what to pass instead. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the user can act on without a stack trace, such as a daemon that is already running. */
export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number;

  constructor(message: string, exitCode = EXIT_FAILURE) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface ReportErrorOptions {
  /** Base URL of the host the command talked to, named when it cannot be reached. */
  hostUrl: string | undefined;
  /** Print stack traces (the global --debug option). */
  debug: boolean;
  /** Advice on choosing another port when one is in use, naming the option or config key of the command that listened. */
  portInUseHint?: string | undefined;
}

/** Prints an error the way its kind calls for and returns the exit code for it. */
export function reportError(error: unknown, output: Output, options: ReportErrorOptions): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help text) through the output hooks.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }

  if (error instanceof UsageError) {
    output.error(error.message);
    return EXIT_USAGE;
  }

  if (error instanceof CliError || error instanceof ConfigError) {
    output.error(error.message);
    printStack(error, output, options);
    return error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  }

  if (isConnectionFailure(error)) {
    const url = options.hostUrl ?? "the configured address";
    output.error(
      `cannot reach the host at ${url} (${describeNetworkError(error.cause)}); ` +
        "start one with 'kohakuriver up' or set KOHAKURIVER_HOST/KOHAKURIVER_PORT",
    );
    printStack(error, output, options);
    return EXIT_FAILURE;
  }

  if (error instanceof KohakuRiverError && error.status < 500) {
    output.error(error.detail);
    printStack(error, output, options);
    return EXIT_FAILURE;
  }

  if (error instanceof KohakuRiverError && error.code === "unavailable") {
    // A 503 from the host means a runner or another dependency of the host is down, and the detail names it.
    output.error(error.detail);
    printStack(error, output, options);
    return EXIT_FAILURE;
  }

  if (error instanceof KohakuRiverError) {
    output.error(`the host failed to handle the request (HTTP ${error.status}): ${error.detail}`);
    if (!options.debug) output.hint("the host's log has the details; rerun with --debug for the CLI's stack trace");
    printStack(error, output, options);
    return EXIT_FAILURE;
  }

  const systemError = findSystemError(error);
  if (systemError !== undefined) {
    // Failures of the environment (a port in use, a directory without permission, no Docker Engine on
    // its socket), reported directly or as the cause of a daemon's error, rather than bugs.
    output.error((error as Error).message);
    if (systemError.code === "EADDRINUSE") {
      const fix = options.portInUseHint ?? "choose another port";
      output.hint(`another process uses this port; stop it, or ${fix}`);
    }
    if (systemError.code === "EACCES" || systemError.code === "EPERM") {
      output.hint("run as a user that may access this path, or change it in the config");
    }
    printStack(error, output, options);
    return EXIT_FAILURE;
  }

  const message = error instanceof Error ? error.message : String(error);
  output.error(message);
  if (options.debug) {
    printStack(error, output, options);
  } else {
    output.hint("this looks like a bug; rerun with --debug to print the stack trace");
  }
  return EXIT_FAILURE;
}

/** Returns true for the client's own network failures, as opposed to a 503 response from the host. */
function isConnectionFailure(error: unknown): error is UnavailableError {
  return error instanceof UnavailableError && error.cause !== undefined;
}

/** Returns the error itself or its direct cause when that is a Node.js system error. */
function findSystemError(error: unknown): (NodeJS.ErrnoException & { code: string }) | undefined {
  if (isSystemError(error)) return error;
  if (error instanceof Error && isSystemError(error.cause)) return error.cause;
  return undefined;
}

/** Checks for a Node.js system error such as EADDRINUSE from listen() or EACCES from mkdir(). */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  const candidate = error as NodeJS.ErrnoException | undefined;
  return error instanceof Error && typeof candidate?.code === "string" && typeof candidate.syscall === "string";
}

function printStack(error: unknown, output: Output, options: ReportErrorOptions): void {
  if (!options.debug) return;
  if (error instanceof Error && error.stack !== undefined) output.note(output.errorColors.dim(error.stack));
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.stack !== undefined)
    output.note(output.errorColors.dim(`caused by: ${cause.stack}`));
}
