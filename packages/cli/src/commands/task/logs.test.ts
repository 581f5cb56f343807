import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { tailStart } from "./logs.js";

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
