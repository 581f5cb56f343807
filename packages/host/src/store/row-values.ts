/**
 * Conversions between record values and the column values that both dialects store: ids as 64-bit
 * integers, timestamps as normalised ISO-8601 UTC text, booleans as 0/1 and JSON as text.
 */

import { InvalidInputError } from "@kohakuriver/api";

const MAX_INT64 = 9223372036854775807n;

/** Timestamps after 9999-12-31 would print as `+010000-…` and break the text ordering. */
const MAX_TIMESTAMP_MS = Date.UTC(10000, 0, 1);

/** An explicit zone is required, because JavaScript reads a timestamp without one as local time. */
const ZONE_SUFFIX = /(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Returns the canonical decimal form of a 64-bit task or batch id, or undefined when the value cannot be
 * one (not decimal digits, or above 2^63 - 1, the largest value a bigint column holds).
 */
export function canonicalTaskId(value: string): string | undefined {
  if (!/^\d{1,20}$/.test(value)) return undefined;
  const id = BigInt(value);
  return id <= MAX_INT64 ? id.toString() : undefined;
}

export function encodeTaskId(value: string, column: string): string {
  const id = canonicalTaskId(value);
  if (id === undefined) {
    throw new InvalidInputError(
      `invalid ${column} "${value}": expected a decimal integer from 0 to ${MAX_INT64}`,
      column,
    );
  }
  return id;
}

export function encodeNullableTaskId(value: string | null, column: string): string | null {
  return value === null ? null : encodeTaskId(value, column);
}

/**
 * Normalises a timestamp to `YYYY-MM-DDTHH:mm:ss.sssZ`, so that the text order of the column is the
 * time order in both dialects.
 */
export function encodeTimestamp(value: string, column: string): string {
  const time = ZONE_SUFFIX.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time) || time < 0 || time >= MAX_TIMESTAMP_MS) {
    throw new InvalidInputError(
      `invalid ${column} "${value}": expected an ISO-8601 timestamp with a zone, such as 2026-01-31T12:00:00.000Z`,
      column,
    );
  }
  return new Date(time).toISOString();
}

export function encodeNullableTimestamp(value: string | null, column: string): string | null {
  return value === null ? null : encodeTimestamp(value, column);
}

export function encodeBoolean(value: boolean): number {
  return value ? 1 : 0;
}

export function decodeBoolean(value: number | bigint): boolean {
  return Number(value) !== 0;
}

/** Reads a bigint column that is not an id; pg returns int8 as a string. */
export function decodeInt64Number(value: number | string | null): number | null {
  if (value === null) return null;
  return typeof value === "number" ? value : Number(value);
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

/** Parses a JSON column and returns `fallback` for SQL NULL. `context` names the row and column in errors. */
export function decodeJson<T>(text: string | null, fallback: T, context: string): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`Invalid JSON in ${context}: ${text.slice(0, 100)}`, { cause: error });
  }
}
