import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { MAX_LOG_RESPONSE_BYTES, completeUtf8Length, readLog } from "./log-reader.js";

const directory = mkdtempSync(join(tmpdir(), "kr-host-log-"));
after(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

describe("readLog", () => {
  it("reads a missing file as empty", async () => {
    assert.deepEqual(await readLog(join(directory, "missing")), { text: "", endOffset: 0, size: 0 });
  });

  it("returns the last lines with the end offset", async () => {
    const path = file("lines", "a\nb\nc\n");
    assert.deepEqual(await readLog(path, { lines: 2 }), { text: "b\nc\n", endOffset: 6, size: 6 });
  });

  it("keeps an unterminated last line", async () => {
    const path = file("partial", "a\nb\nprogress 50%");
    assert.equal((await readLog(path, { lines: 1 })).text, "progress 50%");
  });

  it("returns the bytes from an offset", async () => {
    const path = file("offset", "hello world");
    assert.deepEqual(await readLog(path, { offset: 6 }), { text: "world", endOffset: 11, size: 11 });
    assert.deepEqual(await readLog(path, { offset: 11 }), { text: "", endOffset: 11, size: 11 });
  });

  it("stops before a cut multi-byte character", async () => {
    const accent = Buffer.from("é");
    const path = file("cut", Buffer.concat([Buffer.from("x"), accent.subarray(0, 1)]));
    assert.deepEqual(await readLog(path, { offset: 0 }), { text: "x", endOffset: 1, size: 2 });
  });

  it("returns at most 16 MiB at a time", async () => {
    const path = file("large", Buffer.alloc(MAX_LOG_RESPONSE_BYTES + 10, 0x61));
    const first = await readLog(path, { offset: 0 });
    assert.equal(first.endOffset, MAX_LOG_RESPONSE_BYTES);
    const rest = await readLog(path, { offset: first.endOffset });
    assert.equal(rest.text, "a".repeat(10));
    assert.equal((await readLog(path)).endOffset, MAX_LOG_RESPONSE_BYTES + 10);
  });
});

describe("completeUtf8Length", () => {
  it("keeps whole characters", () => {
    assert.equal(completeUtf8Length(Buffer.from("aé漢😀")), Buffer.byteLength("aé漢😀"));
  });

  it("drops a cut character of any length", () => {
    for (const character of ["é", "漢", "😀"]) {
      const bytes = Buffer.from(`a${character}`);
      for (let cut = 1; cut < Buffer.byteLength(character); cut += 1) {
        assert.equal(completeUtf8Length(bytes.subarray(0, bytes.length - cut)), 1, `${character} minus ${cut}`);
      }
    }
  });
});
