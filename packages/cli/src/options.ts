/** Parsers for option values. Each raises a UsageError that names the option and the expected form. */

import { isTaskStatus, TASK_STATUSES, type TaskStatus } from "@kohakuriver/api";

import { UsageError } from "./errors.js";

/** Parses a whole number of at least `minimum` (a count, a limit, a number of lines). */
export function parseInteger(text: string, option: string, minimum: number, unit: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new UsageError(`invalid value '${text}' for ${option}: use a whole number of ${unit}, ${minimum} or more`);
  }
  return value;
}

/** Parses a number that may have a fraction, 0 or more (a number of cores). */
export function parseNonNegativeNumber(text: string, option: string, unit: string): number {
  const value = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !Number.isFinite(value)) {
    throw new UsageError(`invalid value '${text}' for ${option}: use a number of ${unit}, 0 or more`);
  }
  return value;
}

export function parseTaskStatus(text: string, option: string): TaskStatus {
  if (!isTaskStatus(text)) {
    throw new UsageError(`invalid task status '${text}' for ${option}: use one of ${TASK_STATUSES.join(", ")}`);
  }
  return text;
}

/** Collects a repeatable option's values into a list (commander calls this once per occurrence). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Checks a task id locally, so a typo fails with a clear message before any request is sent. */
export function checkTaskId(text: string): string {
  if (!/^\d{1,20}$/.test(text)) {
    throw new UsageError(`invalid task id '${text}': task ids are decimal numbers such as 7263012345678901248`);
  }
  return text;
}
