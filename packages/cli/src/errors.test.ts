import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ConflictError, KohakuRiverError, NotFoundError, UnavailableError } from "@kohakuriver/api";
import { ConfigError } from "@kohakuriver/common";

import { CaptureStream } from "./cli-harness.fixture.js";
import { CliError, EXIT_FAILURE, EXIT_USAGE, reportError, UsageError } from "./errors.js";
import { Output } from "./output.js";

function report(error: unknown, debug = false): { code: number; stderr: string } {
  const stderr = new CaptureStream();
  const output = new Output(new CaptureStream(), stderr, { NO_COLOR: "1" });
  const code = reportError(error, output, { hostUrl: "http://localhost:8000", debug });
  return { code, stderr: stderr.text };
}

describe("reportError", () => {
  it("prints host 4xx errors plainly", () => {
    const { code, stderr } = report(new NotFoundError("task 42 not found"));
    assert.equal(code, EXIT_FAILURE);
    assert.equal(stderr, "error: task 42 not found\n");
  });

  it("prints conflicts plainly", () => {
    const { stderr } = report(new ConflictError("task 42 is already completed"));
    assert.equal(stderr, "error: task 42 is already completed\n");
  });

  it("prints usage errors with exit code 2", () => {
    const { code, stderr } = report(new UsageError("invalid value 'x' for --limit"));
    assert.equal(code, EXIT_USAGE);
    assert.equal(stderr, "error: invalid value 'x' for --limit\n");
  });

  it("prints CLI errors with their exit code", () => {
    const { code, stderr } = report(new CliError("already running", 3));
    assert.equal(code, 3);
    assert.equal(stderr, "error: already running\n");
  });

  it("prints config errors plainly", () => {
    const { code, stderr } = report(new ConfigError("unknown key 'HOST_PROT' in /etc/host.toml"));
    assert.equal(code, EXIT_FAILURE);
    assert.equal(stderr, "error: unknown key 'HOST_PROT' in /etc/host.toml\n");
  });

  it("explains an unreachable host", () => {
    const cause = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const { code, stderr } = report(new UnavailableError("cannot reach the host", cause));
    assert.equal(code, EXIT_FAILURE);
    assert.equal(
      stderr,
      "error: cannot reach the host at http://localhost:8000 (ECONNREFUSED); " +
        "start one with 'kohakuriver up' or set KOHAKURIVER_HOST/KOHAKURIVER_PORT\n",
    );
  });

  it("prints a host 503 plainly", () => {
    const { stderr } = report(new UnavailableError("runner node1 is unreachable"));
    assert.equal(stderr, "error: runner node1 is unreachable\n");
  });

  it("points to the host log for host failures", () => {
    const { code, stderr } = report(new KohakuRiverError("internal", 500, "database is locked"));
    assert.equal(code, EXIT_FAILURE);
    assert.match(stderr, /^error: the host failed to handle the request \(HTTP 500\): database is locked\n/);
    assert.match(stderr, /hint: the host's log has the details/);
  });

  it("prints system errors without the bug hint", () => {
    const error = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:8000"), {
      code: "EADDRINUSE",
      syscall: "listen",
    });
    const { code, stderr } = report(error);
    assert.equal(code, EXIT_FAILURE);
    assert.match(stderr, /^error: listen EADDRINUSE: address already in use 127\.0\.0\.1:8000\n/);
    assert.match(stderr, /hint: another process uses this port/);
    assert.doesNotMatch(stderr, /bug/);
  });

  it("names the command's port setting for a port in use", () => {
    const stderr = new CaptureStream();
    const output = new Output(new CaptureStream(), stderr, { NO_COLOR: "1" });
    const error = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:8000"), {
      code: "EADDRINUSE",
      syscall: "listen",
    });
    reportError(error, output, {
      hostUrl: undefined,
      debug: false,
      portInUseHint: "choose other ports with 'kohakuriver up --port N --runner-port M'",
    });
    assert.match(
      stderr.text,
      /\nhint: another process uses this port; stop it, or choose other ports with 'kohakuriver up --port N --runner-port M'\n$/,
    );
  });

  it("prints errors caused by system errors plainly", () => {
    const cause = Object.assign(new Error("connect ENOENT /nope"), { code: "ENOENT", syscall: "connect" });
    const error = new Error("Docker Engine not reachable at /nope: connect ENOENT /nope", { cause });
    const { code, stderr } = report(error);
    assert.equal(code, EXIT_FAILURE);
    assert.equal(stderr, "error: Docker Engine not reachable at /nope: connect ENOENT /nope\n");
  });

  it("hints at --debug for unexpected errors", () => {
    const { code, stderr } = report(new TypeError("cannot read properties of undefined"));
    assert.equal(code, EXIT_FAILURE);
    assert.match(stderr, /^error: cannot read properties of undefined\n/);
    assert.match(stderr, /hint: this looks like a bug; rerun with --debug/);
    assert.doesNotMatch(stderr, /at /);
  });

  it("prints the stack with --debug", () => {
    const { stderr } = report(new TypeError("boom"), true);
    assert.match(stderr, /TypeError: boom\n\s+at /);
    assert.doesNotMatch(stderr, /hint:/);
  });
});
