/**
 * Memory sizes as users write them: a number with an optional K, M, G or T suffix.
 *
 * The suffixes are decimal (1G = 1,000,000,000 bytes), as the original CLI defines them, so that
 * `-m 4G` means the same on both. Binary suffixes (Ki, Mi, Gi, Ti) are accepted too.
 */

const DECIMAL: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
const BINARY: Record<string, number> = { ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

const SIZE_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i;

/** Parses a size such as `256M`, `4G`, `1.5Gi` or `1048576`; returns bytes, or null when invalid. */
export function parseMemorySize(text: string): number | null {
  const match = SIZE_PATTERN.exec(text);
  if (match === null) return null;

  const amount = Number(match[1]);
  const suffix = (match[2] ?? "").toLowerCase();
  const multiplier = BINARY[suffix] ?? DECIMAL[suffix];
  if (multiplier === undefined || !Number.isFinite(amount)) return null;

  const bytes = Math.round(amount * multiplier);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Formats bytes with a decimal unit, matching how sizes are entered (`4.0 GB`). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
