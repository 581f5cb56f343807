import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { describeStartError, finalStatusOf, type ContainerEnding } from "./exit-status.js";

function ending(overrides: Partial<ContainerEnding>): ContainerEnding {
  return {
    exitCode: 0,
    oomKilled: false,
    killRequested: false,
    memoryLimitBytes: null,
    startError: "",
    lastStderrLine: null,
    ...overrides,
  };
}

describe("finalStatusOf", () => {
  it("maps exit code 0 to completed", () => {
    assert.deepEqual(finalStatusOf(ending({})), { status: "completed", message: null });
  });

  it("maps other exit codes to failed with the last stderr line", () => {
    const result = finalStatusOf(ending({ exitCode: 3, lastStderrLine: "err" }));
    assert.equal(result.status, "failed");
    assert.match(result.message ?? "", /code 3\. Last stderr line: err/);
  });

  it("maps an OOM kill to killed_oom with the limit", () => {
    const result = finalStatusOf(ending({ exitCode: 137, oomKilled: true, memoryLimitBytes: 33554432 }));
    assert.equal(result.status, "killed_oom");
    assert.match(result.message ?? "", /33554432 bytes/);
  });

  it("keeps a SIGKILL without OOM as failed", () => {
    const result = finalStatusOf(ending({ exitCode: 137 }));
    assert.equal(result.status, "failed");
    assert.match(result.message ?? "", /not by the memory limit/);
  });

  it("names SIGTERM for exit code 143", () => {
    assert.match(finalStatusOf(ending({ exitCode: 143 })).message ?? "", /SIGTERM/);
  });

  it("prefers a requested kill over the exit code", () => {
    assert.equal(finalStatusOf(ending({ exitCode: 137, oomKilled: true, killRequested: true })).status, "killed");
  });
});

describe("describeStartError", () => {
  it("names a missing program and the image", () => {
    const message = describeStartError(
      'OCI runtime create failed: exec: "python": executable file not found in $PATH: unknown',
      "kohakuriver/kohakuriver-base:base",
      "python",
    );
    assert.match(message, /^The command 'python' was not found in image kohakuriver\/kohakuriver-base:base/);
    assert.match(message, /--image python:3\.12-slim/);
  });

  it("passes other errors through", () => {
    assert.equal(describeStartError("no space left", "img", "x"), "The container could not start: no space left");
  });
});
