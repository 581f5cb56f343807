import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { LogReader, tailStart } from "./log-reader.js";

describe("tailStart", () => {
  it("finds the last lines of newline-terminated text", () => {
    const text = "a\nb\nc\n";
    assert.equal(text.slice(tailStart(text, 1)), "c\n");
    assert.equal(text.slice(tailStart(text, 2)), "b\nc\n");
    assert.equal(text.slice(tailStart(text, 5)), text);
  });

  it("counts an unterminated last line", () => {
    const text = "a\nb\nprogress 50%";
    assert.equal(text.slice(tailStart(text, 1)), "progress 50%");
    assert.equal(text.slice(tailStart(text, 2)), "b\nprogress 50%");
  });

  it("returns 0 for empty text", () => {
    assert.equal(tailStart("", 3), 0);
  });
});

/** Creates a log source whose text the test sets between reads. */
function fakeLog(): { text: string; client: { getLog(): Promise<string> } } {
  const log = {
    text: "",
    client: { getLog: (): Promise<string> => Promise.resolve(log.text) },
  };
  return log;
}

describe("LogReader", () => {
  it("returns only appended text", async () => {
    const log = fakeLog();
    const reader = new LogReader(log.client, "1", "stdout");
    assert.equal(await reader.readNew(false), "");
    log.text = "a\n";
    assert.equal(await reader.readNew(false), "a\n");
    log.text = "a\nb";
    assert.equal(await reader.readNew(false), "b");
    assert.equal(await reader.readNew(true), "");
  });

  it("holds back a cut-off character until the task finishes", async () => {
    const log = fakeLog();
    const reader = new LogReader(log.client, "1", "stdout");
    log.text = "x\uFFFD";
    assert.equal(await reader.readNew(false), "x");
    log.text = "xé";
    assert.equal(await reader.readNew(false), "é");
    log.text = "xé\uFFFD";
    assert.equal(await reader.readNew(true), "\uFFFD");
  });

  it("restarts after the log shrinks", async () => {
    const log = fakeLog();
    const reader = new LogReader(log.client, "1", "stdout");
    log.text = "long line\n";
    assert.equal(await reader.readNew(false), "long line\n");
    log.text = "new\n";
    assert.equal(await reader.readNew(false), "new\n");
  });

  it("limits the first read to tail lines", async () => {
    const log = fakeLog();
    const reader = new LogReader(log.client, "1", "stdout");
    log.text = "a\nb\nc\n";
    assert.equal(await reader.readNew(false, 1), "c\n");
    log.text = "a\nb\nc\nd\n";
    assert.equal(await reader.readNew(false), "d\n");
  });
});
