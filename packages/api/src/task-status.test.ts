import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { TASK_STATUSES, TERMINAL_STATUSES, canTransition, statusesThatMayBecome } from "./task-status.js";

describe("task status transitions", () => {
  it("never leaves a terminal status", () => {
    for (const from of TERMINAL_STATUSES) {
      for (const to of TASK_STATUSES) assert.equal(canTransition(from, to), false, `${from} -> ${to}`);
    }
  });

  it("lets a queued task be placed, killed or failed only", () => {
    assert.deepEqual(
      TASK_STATUSES.filter((to) => canTransition("pending", to)),
      ["assigning", "failed", "killed"],
    );
  });

  it("lets a lost task come back or finish with its real status", () => {
    for (const to of ["running", "paused", "completed", "failed", "killed", "killed_oom", "assigning"] as const) {
      assert.equal(canTransition("lost", to), true, `lost -> ${to}`);
    }
    assert.equal(canTransition("lost", "pending"), false);
  });

  it("does not jump from pending straight to running", () => {
    assert.equal(canTransition("pending", "running"), false);
  });

  it("pauses and resumes running tasks only", () => {
    assert.equal(canTransition("running", "paused"), true);
    assert.equal(canTransition("paused", "running"), true);
    assert.equal(canTransition("pending", "paused"), false);
  });

  it("lists the statuses that may become killed", () => {
    assert.deepEqual(statusesThatMayBecome("killed"), [
      "pending_approval",
      "pending",
      "assigning",
      "running",
      "paused",
      "lost",
    ]);
  });
});
