/** Incremental reads of a task's log through the host API, for `task logs -f` and `task submit --wait`. */

import type { HostClient } from "@kohakuriver/api";

/**
 * Reads one log of one task repeatedly and returns only the text appended since the previous read.
 * New text is found by the length already returned, so each read fetches the whole log.
 *
 * NOTE: the host returns at most the last 16 MiB of a log. Once a log is larger than that, the length no
 * longer tracks what was returned, so new output can be missed or the last 16 MiB returned again.
 */
export class LogReader {
  private returned = 0;

  constructor(
    private readonly client: Pick<HostClient, "getLog">,
    private readonly taskId: string,
    private readonly stream: "stdout" | "stderr",
  ) {}

  /**
   * Fetches the log and returns what is new. Pass `finished` true when the task had a finished status
   * before this call, so the log is complete. `tailLines` limits the result to the last lines of the log.
   */
  async readNew(finished: boolean, tailLines?: number): Promise<string> {
    const text = await this.client.getLog(this.taskId, this.stream);

    if (text.length < this.returned) {
      // The log was replaced by a shorter one (a rerun or manual truncation): return it from the start.
      this.returned = 0;
    }
    let end = text.length;
    if (!finished && text.endsWith("\uFFFD")) {
      // A multi-byte character cut off at the end of a file still being written decodes as U+FFFD.
      // Hold it back until the rest of its bytes arrive.
      end -= 1;
    }

    let start = this.returned;
    if (tailLines !== undefined) start = Math.max(start, tailStart(text.slice(0, end), tailLines));
    this.returned = end;
    return text.slice(start, end);
  }
}

/** Returns the index where the last `lines` lines of `text` begin. A trailing newline starts no extra line. */
export function tailStart(text: string, lines: number): number {
  let index = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let count = 0; count < lines; count += 1) {
    const newline = text.lastIndexOf("\n", index - 1);
    if (newline === -1) return 0;
    index = newline;
  }
  return index + 1;
}
