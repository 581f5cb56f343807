/** Incremental reads of a task's log through the host API, for `task logs -f` and `task submit --wait`. */

import type { HostClient } from "@kohakuriver/api";

/**
 * Reads one log of one task repeatedly and returns only the text appended since the previous read. It
 * follows the host's byte offsets (`?offset=`), so each read transfers only new output, however large the
 * log grows, and a multi-byte character split across writes is never cut.
 */
export class LogReader {
  private offset: number | null = null;

  constructor(
    private readonly client: Pick<HostClient, "readLog">,
    private readonly taskId: string,
    private readonly stream: "stdout" | "stderr",
  ) {}

  /**
   * Fetches what is new. Pass `finished` true when the task had a finished status before this call, so the
   * log is complete and is read to its end. `tailLines` limits the first read to the last lines of the log.
   */
  async readNew(finished: boolean, tailLines?: number): Promise<string> {
    const parts: string[] = [];
    for (;;) {
      const slice =
        this.offset === null && tailLines !== undefined
          ? await this.client.readLog(this.taskId, this.stream, { lines: tailLines })
          : await this.client.readLog(this.taskId, this.stream, { offset: this.offset ?? 0 });

      if (this.offset !== null && slice.size < this.offset) {
        // The log was replaced by a shorter one (a rerun or manual truncation): read it from the start.
        this.offset = 0;
        continue;
      }
      const advanced = this.offset === null || slice.endOffset > this.offset;
      this.offset = slice.endOffset;
      parts.push(slice.text);

      // One response carries at most 16 MiB: keep reading while more is waiting, when the task is done.
      if (!finished || !advanced || slice.endOffset >= slice.size) break;
    }
    return parts.join("");
  }
}
