import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { TaskStatus } from "@kohakuriver/api";

import { batchExitCode, taskExitCode } from "./exit-code.js";

describe("taskExitCode", () => {
  const cases: Array<[TaskStatus, number | null, number]> = [
    ["completed", 0, 0],
    ["completed", null, 0],
    ["failed", 2, 2],
    ["failed", 255, 255],
    ["failed", 0, 1],
    ["failed", null, 1],
    ["failed", 256, 1],
    ["failed", -1, 1],
    ["killed", null, 137],
    ["killed", 143, 137],
    ["killed_oom", 137, 137],
    ["lost", null, 1],
    ["stopped", null, 1],
    ["rejected", null, 1],
  ];
  for (const [status, exitCode, expected] of cases) {
    it(`maps ${status} with exit code ${exitCode} to ${expected}`, () => {
      assert.equal(taskExitCode({ status, exit_code: exitCode }), expected);
    });
  }
});

describe("batchExitCode", () => {
  it("returns 0 when every task completed", () => {
    assert.equal(
      batchExitCode([
        { status: "completed", exit_code: 0 },
        { status: "completed", exit_code: 0 },
      ]),
      0,
    );
  });

  it("returns the first non-zero code in task order", () => {
    const tasks = [
      { status: "completed" as const, exit_code: 0 },
      { status: "failed" as const, exit_code: 3 },
      { status: "killed" as const, exit_code: null },
    ];
    assert.equal(batchExitCode(tasks), 3);
  });
});
