/** Count phrases for CLI text: `1 core`, `2 cores`, `0.5 cores`. */

/** Returns `count noun` with the noun singular only for exactly 1. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
