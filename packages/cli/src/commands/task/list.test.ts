import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { emptyListNote } from "./list.js";

describe("emptyListNote", () => {
  it("suggests a submit without filters", () => {
    assert.equal(
      emptyListNote(undefined, undefined),
      "no tasks yet; submit one with 'kohakuriver task submit -- CMD ARGS...'",
    );
  });

  it("names the filters that matched nothing", () => {
    assert.equal(
      emptyListNote("failed", undefined),
      "no task matches the filter (status failed); list all tasks with 'kohakuriver task list'",
    );
    assert.equal(
      emptyListNote("running", "gpu1"),
      "no task matches the filter (status running, node gpu1); list all tasks with 'kohakuriver task list'",
    );
  });
});
