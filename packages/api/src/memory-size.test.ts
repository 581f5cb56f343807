import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatBytes, parseMemorySize } from "./memory-size.js";

describe("parseMemorySize", () => {
  const valid: Array<[string, number]> = [
    ["1024", 1024],
    ["512K", 512_000],
    ["256M", 256_000_000],
    ["256m", 256_000_000],
    ["4G", 4_000_000_000],
    ["1.5G", 1_500_000_000],
    ["2T", 2_000_000_000_000],
    ["1Gi", 1_073_741_824],
    ["512Mi", 536_870_912],
    ["4GB", 4_000_000_000],
    [" 8G ", 8_000_000_000],
  ];
  for (const [text, bytes] of valid) {
    it(`reads '${text}' as ${bytes} bytes`, () => {
      assert.equal(parseMemorySize(text), bytes);
    });
  }

  for (const text of ["12Q", "", "G", "-1G", "1..5G", "4 G B", "1e9", "abc", "99999999999999999999T"]) {
    it(`rejects '${text}'`, () => {
      assert.equal(parseMemorySize(text), null);
    });
  }
});

describe("formatBytes", () => {
  it("uses decimal units", () => {
    assert.equal(formatBytes(256_000_000), "256.0 MB");
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(null), "-");
  });
});
