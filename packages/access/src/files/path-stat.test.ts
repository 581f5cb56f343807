import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { decodePathStat, decodePathStatHeader, fileTypeOfGoMode, permissionString } from "./path-stat.js";

/** Go os.FileMode bits, as the Engine encodes them. */
const DIR = 2 ** 31;
const SYMLINK = 2 ** 27;
const DEVICE = 2 ** 26;
const NAMED_PIPE = 2 ** 25;
const SOCKET = 2 ** 24;
const SETUID = 2 ** 23;
const SETGID = 2 ** 22;
const CHAR_DEVICE = 2 ** 21;
const STICKY = 2 ** 20;

function header(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64");
}

describe("Engine path stat decoding", () => {
  it("decodes a regular file header", () => {
    const stat = decodePathStatHeader(
      header({ name: "notes.txt", size: 42, mode: 0o644, mtime: "2026-12-05T01:02:03.123456789Z", linkTarget: "" }),
    );
    assert.equal(stat.name, "notes.txt");
    assert.equal(stat.size, 42);
    assert.equal(stat.type, "file");
    assert.equal(stat.permissions, "rw-r--r--");
    assert.equal(stat.octalMode, "644");
    assert.equal(stat.permissionBits, 0o644);
    assert.equal(stat.mtime, "2026-12-05T01:02:03.123Z");
    assert.equal(stat.linkTarget, null);
  });

  it("decodes the directory bit", () => {
    // 2147484141 is what the Engine sends for drwxr-xr-x: the top bit of a uint32 above JavaScript's int32.
    const stat = decodePathStat({ name: "root", size: 4096, mode: DIR + 0o755, mtime: "2026-12-05T00:00:00Z" });
    assert.equal(stat.type, "directory");
    assert.equal(stat.permissions, "rwxr-xr-x");
    assert.equal(stat.octalMode, "755");
  });

  it("decodes a symlink and its target", () => {
    const stat = decodePathStat({ name: "sh", size: 7, mode: SYMLINK + 0o777, mtime: "", linkTarget: "/bin/busybox" });
    assert.equal(stat.type, "symlink");
    assert.equal(stat.linkTarget, "/bin/busybox");
    assert.equal(stat.permissions, "rwxrwxrwx");
    assert.equal(stat.mtime, "1970-01-01T00:00:00.000Z");
  });

  it("classifies devices, pipes and sockets as other", () => {
    for (const bits of [DEVICE, DEVICE + CHAR_DEVICE, NAMED_PIPE, SOCKET]) {
      assert.equal(fileTypeOfGoMode(bits + 0o600), "other", String(bits));
    }
    assert.equal(fileTypeOfGoMode(0), "file");
  });

  it("keeps setuid, setgid and sticky bits in the octal mode", () => {
    assert.equal(decodePathStat({ mode: SETUID + 0o755 }).octalMode, "4755");
    assert.equal(decodePathStat({ mode: SETGID + 0o750 }).octalMode, "2750");
    assert.equal(decodePathStat({ mode: DIR + STICKY + 0o777 }).octalMode, "1777");
    assert.equal(decodePathStat({ mode: DIR + STICKY + 0o777 }).type, "directory");
    assert.equal(decodePathStat({ mode: 0o7 }).octalMode, "007");
  });

  it("formats permission strings", () => {
    assert.equal(permissionString(0o754), "rwxr-xr--");
    assert.equal(permissionString(0), "---------");
    assert.equal(permissionString(0o777), "rwxrwxrwx");
    assert.equal(permissionString(0o421), "r---w---x");
  });

  it("rejects unreadable headers", () => {
    assert.throws(() => decodePathStatHeader("not base64 json"), /unreadable path stat header/);
    assert.throws(() => decodePathStatHeader(header({ name: "x" })), /without a mode/);
  });
});
