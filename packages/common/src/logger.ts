/**
 * The process logger: pino with secrets redacted. On a terminal the lines are formatted for people
 * (`12:00:01 INFO  host: node registered hostname=node1`); elsewhere they stay JSON for log collectors.
 */

import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/** LOG_LEVEL values of the original (`full`, `debug`, `info`, `warning`) plus pino's own names. */
export function toPinoLevel(level: string): LevelWithSilent {
  switch (level.toLowerCase()) {
    case "full":
    case "trace":
      return "trace";
    case "debug":
      return "debug";
    case "warning":
    case "warn":
      return "warn";
    case "error":
      return "error";
    case "silent":
      return "silent";
    default:
      return "info";
  }
}

const REDACTED_PATHS = [
  "token",
  "password",
  "authorization",
  "headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "*.token",
  "*.password",
];

export interface CreateLoggerOptions {
  name: string;
  level?: string;
  /** Force JSON lines even on a terminal. */
  json?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const destination = options.destination ?? process.stderr;
  const human = options.json !== true && (destination as { isTTY?: boolean }).isTTY === true;
  return pino(
    {
      name: options.name,
      level: toPinoLevel(options.level ?? "info"),
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      base: undefined,
    },
    human ? humanStream(destination) : (destination as pino.DestinationStream),
  );
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};

function humanStream(destination: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        destination.write(line);
        return;
      }
      const { level, time, msg, name, component, err, ...fields } = record;
      const clock = new Date(Number(time)).toTimeString().slice(0, 8);
      const source = component ?? name ?? "";
      const extras = Object.entries(fields)
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
        .join(" ");
      const error = err === undefined ? "" : ` error=${(err as { message?: string }).message ?? JSON.stringify(err)}`;
      destination.write(
        `${clock} ${LEVEL_NAMES[Number(level)] ?? level} ${source}: ${msg}${extras ? ` ${extras}` : ""}${error}\n`,
      );
    },
  };
}
