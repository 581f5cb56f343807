/**
 * All terminal output of the CLI: results on stdout, progress, hints and errors on stderr.
 *
 * No other module writes to the process streams, so tests can run the real CLI with captured streams.
 * Colors follow the NO_COLOR convention (https://no-color.org) and are off when a stream is not a
 * terminal. FORCE_COLOR turns them on for both streams.
 */

import { stripVTControlCharacters } from "node:util";

import Table from "cli-table3";
import ora from "ora";
import picocolors from "picocolors";

/** The part of a writable stream that the CLI uses. Tests pass plain objects that collect the text. */
export interface CliStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type Colors = ReturnType<typeof picocolors.createColors>;

export interface Progress {
  /** Replaces the progress text (a spinner on a terminal, a new line elsewhere when the text changes). */
  update(text: string): void;
  /** Removes the spinner, so later output starts on a clean line. */
  stop(): void;
}

export class Output {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  /** Colors for text written to stdout. */
  readonly colors: Colors;
  /** Colors for text written to stderr. */
  readonly errorColors: Colors;
  private redrawnLines = 0;

  constructor(stdout: CliStream, stderr: CliStream, env: Record<string, string | undefined>) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.colors = picocolors.createColors(colorsEnabled(stdout, env));
    this.errorColors = picocolors.createColors(colorsEnabled(stderr, env));
  }

  /**
   * True when stderr is a terminal with a known width, where progress is shown as a spinner with a
   * running clock. A terminal reporting 0 columns (a pty without a size) gets plain lines, because ora 9
   * cannot compute how many lines to clear there and clears forever.
   */
  get interactive(): boolean {
    return this.stderr.isTTY === true && (this.stderr.columns ?? 0) > 0;
  }

  /** Writes one line of result text to stdout. */
  line(text = ""): void {
    this.stdout.write(`${text}\n`);
  }

  /** Writes text to stdout exactly as given (log contents). */
  raw(text: string): void {
    if (text !== "") this.stdout.write(text);
  }

  /** Writes text to stderr exactly as given (a task's stderr log). */
  rawError(text: string): void {
    if (text !== "") this.stderr.write(text);
  }

  /** Writes a value as indented JSON to stdout. */
  json(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Writes a borderless table with bold headings to stdout. */
  table(head: string[], rows: string[][]): void {
    const table = new Table({
      head: head.map((title) => this.colors.bold(title)),
      chars: BORDERLESS,
      style: { head: [], border: [], "padding-left": 0, "padding-right": 2 },
    });
    table.push(...rows);
    this.line(table.toString().replace(/ +$/gm, ""));
  }

  /** Writes `label  value` lines with the labels padded to one width. */
  details(pairs: Array<[string, string]>): void {
    this.line(this.formatDetails(pairs));
  }

  /** Formats `label  value` lines as `details` writes them, for views that are redrawn. */
  formatDetails(pairs: Array<[string, string]>): string {
    const width = Math.max(...pairs.map(([label]) => label.length));
    return pairs.map(([label, value]) => `${this.colors.bold(label.padEnd(width))}  ${value}`).join("\n");
  }

  /**
   * Replaces the text written by the previous redraw call, for views refreshed in place (task watch).
   * Off a terminal the text is appended instead, because cursor movement would garble a log file.
   */
  redraw(text: string): void {
    const lines = text.endsWith("\n") ? text : `${text}\n`;
    if (this.stdout.isTTY === true && this.redrawnLines > 0) {
      this.stdout.write(`\x1b[${this.redrawnLines}A\x1b[0J`);
    }
    this.stdout.write(lines);
    this.redrawnLines = countRows(lines, this.stdout.columns ?? 0);
  }

  /** Writes a progress or status note to stderr, where it does not mix with results. */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.stderr.write(`${this.errorColors.yellow("warning:")} ${text}\n`);
  }

  error(text: string): void {
    this.stderr.write(`${this.errorColors.red("error:")} ${text}\n`);
  }

  hint(text: string): void {
    this.stderr.write(`${this.errorColors.dim(`hint: ${text}`)}\n`);
  }

  /** Starts a progress display on stderr: an ora spinner on a terminal, plain lines elsewhere. */
  progress(text: string): Progress {
    if (this.interactive) {
      // discardStdin stays off so that Ctrl-C reaches the process as a plain SIGINT.
      const spinner = ora({ text, stream: this.stderr as NodeJS.WritableStream, discardStdin: false }).start();
      return {
        update: (next) => {
          spinner.text = next;
        },
        stop: () => {
          spinner.stop();
        },
      };
    }

    let last = text;
    this.note(text);
    return {
      update: (next) => {
        if (next === last) return;
        last = next;
        this.note(next);
      },
      stop: () => undefined,
    };
  }

  /** The stream that daemon loggers write to, so `host`, `runner` and `up` logs follow the CLI's streams. */
  get logStream(): CliStream {
    return this.stderr;
  }
}

const BORDERLESS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "",
};

/** Terminal rows taken by newline-terminated text, counting lines that wrap at `columns` (0: no wrapping). */
function countRows(text: string, columns: number): number {
  const lines = text.split("\n").slice(0, -1);
  if (columns <= 0) return lines.length;
  return lines.reduce(
    (rows, line) => rows + Math.max(1, Math.ceil(stripVTControlCharacters(line).length / columns)),
    0,
  );
}

function colorsEnabled(stream: CliStream, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}
