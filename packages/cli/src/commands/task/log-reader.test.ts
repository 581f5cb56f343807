import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { readLog } from "../../../../host/src/tasks/log-reader.js";
import { LogReader } from "./log-reader.js";

const directory = mkdtempSync(join(tmpdir(), "kr-log-reader-"));
after(() => rmSync(directory, { recursive: true, force: true }));

/** Creates a log file that is read through the host's own reader, as GET /api/tasks/{id}/stdout does. */
function logFile(name: string): { path: string; client: { readLog: LogReaderClient["readLog"] } } {
  const path = join(directory, name);
  writeFileSync(path, "");
  return { path, client: { readLog: (_taskId, _stream, options) => readLog(path, options) } };
}

type LogReaderClient = ConstructorParameters<typeof LogReader>[0];

describe("LogReader", () => {
  it("returns only appended text", async () => {
    const log = logFile("appended");
    const reader = new LogReader(log.client, "1", "stdout");
    assert.equal(await reader.readNew(false), "");
    appendFileSync(log.path, "a\n");
    assert.equal(await reader.readNew(false), "a\n");
    appendFileSync(log.path, "b");
    assert.equal(await reader.readNew(false), "b");
    assert.equal(await reader.readNew(true), "");
  });

  it("never cuts a multi-byte character", async () => {
    const log = logFile("multibyte");
    const reader = new LogReader(log.client, "1", "stdout");
    const accent = Buffer.from("é");
    appendFileSync(log.path, Buffer.concat([Buffer.from("x"), accent.subarray(0, 1)]));
    assert.equal(await reader.readNew(false), "x");
    appendFileSync(log.path, accent.subarray(1));
    assert.equal(await reader.readNew(false), "é");
  });

  it("restarts after the log shrinks", async () => {
    const log = logFile("shrinks");
    const reader = new LogReader(log.client, "1", "stdout");
    appendFileSync(log.path, "long line\n");
    assert.equal(await reader.readNew(false), "long line\n");
    writeFileSync(log.path, "new\n");
    assert.equal(await reader.readNew(false), "new\n");
  });

  it("limits the first read to tail lines", async () => {
    const log = logFile("tail");
    const reader = new LogReader(log.client, "1", "stdout");
    appendFileSync(log.path, "a\nb\nc\n");
    assert.equal(await reader.readNew(false, 1), "c\n");
    appendFileSync(log.path, "d\n");
    assert.equal(await reader.readNew(false), "d\n");
  });

  it("reads a finished log beyond one response", async () => {
    const log = logFile("large");
    const line = `${"x".repeat(1023)}\n`;
    appendFileSync(log.path, line.repeat(20 * 1024));
    const text = await new LogReader(log.client, "1", "stdout").readNew(true);
    assert.equal(text.length, 20 * 1024 * 1024);
  });
});
