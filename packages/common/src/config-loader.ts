/**
 * Loads a daemon's configuration: built-in defaults, then a TOML file with the original's key names, then
 * `KOHAKURIVER_<KEY>` environment variables, then explicit overrides. The result is validated once by a
 * zod schema and frozen; nothing else in a process reads `process.env` for settings.
 */

import { existsSync, readFileSync } from "node:fs";

import { parse as parseToml } from "smol-toml";
import type { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface LoadConfigOptions {
  /** Explicit file from `--config`; it must exist. */
  file?: string | undefined;
  /** File read when `file` is not given, if it exists (for example ~/.kohakuriver/host.toml). */
  defaultFile?: string | undefined;
  /** Environment to read `KOHAKURIVER_<KEY>` variables from. */
  env?: Record<string, string | undefined>;
  /** Values that win over the file and the environment (command-line options). */
  overrides?: Record<string, unknown>;
}

export interface LoadedConfig<T> {
  config: Readonly<T>;
  /** The file that was read, or null when only defaults and the environment were used. */
  file: string | null;
}

type ObjectSchema = z.ZodObject<z.ZodRawShape>;

export function loadConfig<S extends ObjectSchema>(
  schema: S,
  options: LoadConfigOptions = {},
): LoadedConfig<z.output<S>> {
  const keys = Object.keys(schema.shape);
  const raw: Record<string, unknown> = {};

  const file = resolveConfigFile(options);
  if (file !== null) Object.assign(raw, readTomlFile(file, keys));

  for (const key of keys) {
    const value = options.env?.[`KOHAKURIVER_${key}`];
    if (value !== undefined && value !== "") raw[key] = coerceEnvValue(schema, key, value);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) raw[key] = value;
  }

  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join(".");
      const source = describeSource(key, file, options);
      return `${key} (${source}): ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  return { config: Object.freeze(result.data), file };
}

function resolveConfigFile(options: LoadConfigOptions): string | null {
  if (options.file !== undefined) {
    if (!existsSync(options.file)) {
      throw new ConfigError(
        `config file ${options.file} does not exist; create it with 'kohakuriver init config' or fix the path`,
      );
    }
    return options.file;
  }
  if (options.defaultFile !== undefined && existsSync(options.defaultFile)) return options.defaultFile;
  return null;
}

function readTomlFile(file: string, keys: string[]): Record<string, unknown> {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }

  const unknown = Object.keys(parsed).filter((key) => !keys.includes(key));
  if (unknown.length > 0) {
    throw new ConfigError(
      `unknown key ${unknown.map((key) => `'${key}'`).join(", ")} in ${file}; check the spelling (known keys: ${keys.join(", ")})`,
    );
  }
  return parsed;
}

/** Turns an environment string into the type the schema expects for that key. */
function coerceEnvValue(schema: ObjectSchema, key: string, value: string): unknown {
  const kind = baseType(schema.shape[key]);
  if (kind === "number") {
    const number = Number(value);
    return Number.isFinite(number) && value.trim() !== "" ? number : value;
  }
  if (kind === "boolean") {
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
    return value;
  }
  if (kind === "array") {
    if (value.trim().startsWith("[")) {
      try {
        return JSON.parse(value);
      } catch {
        return value;
      }
    }
    return value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  }
  return value;
}

function baseType(field: unknown): string | undefined {
  let current = field as { _zod?: { def?: { type?: string; innerType?: unknown } } } | undefined;
  for (let depth = 0; depth < 10 && current?._zod?.def !== undefined; depth += 1) {
    const def = current._zod.def;
    if (def.innerType === undefined) return def.type;
    current = def.innerType as typeof current;
  }
  return undefined;
}

function describeSource(key: string, file: string | null, options: LoadConfigOptions): string {
  if (options.overrides?.[key] !== undefined) return "command-line option";
  if (options.env?.[`KOHAKURIVER_${key}`] !== undefined) return `environment variable KOHAKURIVER_${key}`;
  return file ?? "default";
}
