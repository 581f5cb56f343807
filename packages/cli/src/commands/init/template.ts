/** Renders a config template: every key with its default value and a comment line above it. */

export interface TemplateOptions {
  /** Lines for the header comment, without the leading `# `. */
  header: string[];
  /** Default values, as the config schema produces them from an empty input. */
  defaults: Record<string, unknown>;
  /** One-line explanation per key. */
  comments: Record<string, string>;
}

export function renderConfigTemplate(options: TemplateOptions): string {
  const parts = [options.header.map((line) => (line === "" ? "#" : `# ${line}`)).join("\n")];
  for (const [key, value] of Object.entries(options.defaults)) {
    const comment = options.comments[key];
    if (comment === undefined) throw new Error(`config key ${key} has no template comment`);
    parts.push(`# ${comment}\n${key} = ${tomlValue(value)}`);
  }
  return `${parts.join("\n\n")}\n`;
}

/** Encodes a string, number, boolean or array of them as a TOML value. */
export function tomlValue(value: unknown): string {
  if (typeof value === "string") {
    // JSON string escapes are valid TOML basic-string escapes. TOML also forbids a raw DEL character.
    return JSON.stringify(value).replace(/\x7f/g, "\\u007F");
  }
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  throw new Error(`cannot write ${JSON.stringify(value)} as a TOML value`);
}
