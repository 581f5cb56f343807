import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { decodeContent } from "./container-files.js";
import { inotifyEvent, parseStatRecords, type PolledEntry } from "./watch.js";

describe("stat record parsing", () => {
  it("reads names with newlines and skips vanished ones", () => {
    const names = ["/shared/a", "/shared/gone", "/shared/new\nline", "/shared/dir"];
    const output = [
      "1700000000 1700000001 5 11 81a4 /shared/a\n",
      "1700000002 1700000002 3 12 81a4 /shared/new\nline\n",
      "1700000003 1700000003 4096 13 41ed /shared/dir\n",
    ].join("");
    const entries = new Map<string, PolledEntry>();
    parseStatRecords(output, names, entries);
    assert.deepEqual([...entries.keys()], ["/shared/a", "/shared/new\nline", "/shared/dir"]);
    assert.equal(entries.get("/shared/a")?.isDir, false);
    assert.equal(entries.get("/shared/a")?.signature, "1700000000 1700000001 5 11");
    assert.equal(entries.get("/shared/dir")?.isDir, true);
    assert.equal(entries.get("/shared/new\nline")?.inode, "12");
  });

  it("ignores output that names no expected path", () => {
    const entries = new Map<string, PolledEntry>();
    parseStatRecords("garbage\n1 2 3 4 81a4 /other\n", ["/shared/a"], entries);
    assert.equal(entries.size, 0);
  });
});

describe("inotify event mapping", () => {
  it("maps event names", () => {
    assert.deepEqual(inotifyEvent("CREATE"), { event: "CREATE", isDir: false });
    assert.deepEqual(inotifyEvent("CREATE,ISDIR"), { event: "CREATE", isDir: true });
    assert.deepEqual(inotifyEvent("MODIFY"), { event: "MODIFY", isDir: false });
    assert.deepEqual(inotifyEvent("DELETE"), { event: "DELETE", isDir: false });
    assert.deepEqual(inotifyEvent("DELETE_SELF"), { event: "DELETE", isDir: false });
    assert.deepEqual(inotifyEvent("MOVED_FROM"), { event: "MOVE", isDir: false });
    assert.deepEqual(inotifyEvent("MOVED_TO,ISDIR"), { event: "MOVE", isDir: true });
    assert.equal(inotifyEvent("ACCESS"), null);
  });
});

describe("write content decoding", () => {
  it("decodes base64 exactly", () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    assert.deepEqual(decodeContent(bytes.toString("base64"), "base64"), bytes);
    assert.deepEqual(decodeContent("", "base64"), Buffer.alloc(0));
    assert.deepEqual(decodeContent("héllo", "utf-8"), Buffer.from("héllo", "utf8"));
  });

  it("rejects malformed base64", () => {
    for (const content of ["abc", "ab c", "a===", "****", "YQ==YQ=="]) {
      assert.throws(() => decodeContent(content, "base64"), /content: is not valid base64/, content);
    }
  });
});
