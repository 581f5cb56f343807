import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import type { TaskResponse, TaskStatus } from "@kohakuriver/api";

import { readLog } from "../../../../host/src/tasks/log-reader.js";
import { CaptureStream } from "../../cli-harness.fixture.js";
import { Output } from "../../output.js";
import { batchHeader, createTaskOutputPrinter } from "./task-output.js";
import type { ProgressControl } from "./wait.js";

const createdLogs: TaskLogs[] = [];
after(() => {
  for (const logs of createdLogs) logs.remove();
});

/** Task logs in temporary files, read through the host's own log reader as the API does. */
class TaskLogs {
  private readonly directory = mkdtempSync(join(tmpdir(), "kr-task-output-"));

  constructor() {
    createdLogs.push(this);
  }

  set(taskId: string, stdout: string, stderr = ""): void {
    writeFileSync(this.path(taskId, "stdout"), stdout);
    writeFileSync(this.path(taskId, "stderr"), stderr);
  }

  readLog(taskId: string, stream: "stdout" | "stderr", options: { lines?: number; offset?: number } = {}) {
    return readLog(this.path(taskId, stream), options);
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }

  private path(taskId: string, stream: string): string {
    return join(this.directory, `${taskId}.${stream}`);
  }
}

/** Counts the calls a printer makes to the progress display. */
class ProgressSpy implements ProgressControl {
  pauses = 0;
  ends = 0;

  pause(): void {
    this.pauses += 1;
  }

  end(): void {
    this.ends += 1;
  }
}

function task(taskId: string, status: TaskStatus, started: boolean): TaskResponse {
  return {
    task_id: taskId,
    status,
    started_at: started ? "2026-12-04T10:00:00.000Z" : null,
    assigned_node: started ? "node1" : null,
    target_node: null,
  } as TaskResponse;
}

function captureOutput(): { output: Output; stdout: CaptureStream; stderr: CaptureStream } {
  const stdout = new CaptureStream();
  const stderr = new CaptureStream();
  return { output: new Output(stdout, stderr, { NO_COLOR: "1" }), stdout, stderr };
}

describe("task output of one task", () => {
  it("streams new output once the task starts", async () => {
    const logs = new TaskLogs();
    const { output, stdout, stderr } = captureOutput();
    const printer = createTaskOutputPrinter(logs, ["1"], output);
    const progress = new ProgressSpy();

    logs.set("1", "ignored while pending\n");
    await printer.onPoll([task("1", "pending", false)], progress);
    assert.equal(stdout.text, "");
    assert.equal(progress.ends, 0);

    logs.set("1", "a\n");
    await printer.onPoll([task("1", "running", true)], progress);
    assert.equal(stdout.text, "a\n");
    assert.equal(progress.ends, 1);

    logs.set("1", "a\nb", "oops\n");
    await printer.onPoll([task("1", "failed", true)], progress);
    assert.equal(stdout.text, "a\nb");
    assert.equal(stderr.text, "oops\n");
  });

  it("ends an unterminated last line", async () => {
    const logs = new TaskLogs();
    const { output, stdout, stderr } = captureOutput();
    const printer = createTaskOutputPrinter(logs, ["1"], output);

    logs.set("1", "no newline", "no newline either");
    await printer.onPoll([task("1", "completed", true)], new ProgressSpy());
    printer.endLines();
    assert.equal(stdout.text, "no newline\n");
    assert.equal(stderr.text, "no newline either\n");

    printer.endLines();
    assert.equal(stdout.text, "no newline\n");
  });

  it("keeps progress while there is no output", async () => {
    const logs = new TaskLogs();
    const { output } = captureOutput();
    const printer = createTaskOutputPrinter(logs, ["1"], output);
    const progress = new ProgressSpy();

    await printer.onPoll([task("1", "running", true)], progress);
    await printer.onPoll([task("1", "killed", true)], progress);
    assert.equal(progress.ends, 0);
    assert.equal(progress.pauses, 0);
  });
});

describe("task output of a batch", () => {
  it("prints each finished task under a header", async () => {
    const logs = new TaskLogs();
    const { output, stdout, stderr } = captureOutput();
    const printer = createTaskOutputPrinter(logs, ["1", "2"], output);
    const progress = new ProgressSpy();

    logs.set("1", "one\n");
    logs.set("2", "two, partial");
    await printer.onPoll([task("1", "completed", true), task("2", "running", true)], progress);
    assert.equal(stdout.text, "==> task 1 on node1 <==\none\n");
    assert.equal(stderr.text, "");
    assert.equal(progress.pauses, 1);

    logs.set("2", "two", "warning\n");
    await printer.onPoll([task("1", "completed", true), task("2", "failed", true)], progress);
    assert.equal(stdout.text, "==> task 1 on node1 <==\none\n==> task 2 on node1 <==\ntwo\n");
    assert.equal(stderr.text, "==> task 2 on node1, stderr <==\nwarning\n");
    assert.equal(progress.pauses, 2);
    assert.equal(progress.ends, 0);
  });

  it("prints a header for a task without output", async () => {
    const logs = new TaskLogs();
    const { output, stdout, stderr } = captureOutput();
    const printer = createTaskOutputPrinter(logs, ["1", "2"], output);

    await printer.onPoll([task("1", "killed", false), task("2", "killed", false)], new ProgressSpy());
    assert.equal(stdout.text, "==> task 1 <==\n==> task 2 <==\n");
    assert.equal(stderr.text, "");
  });
});

describe("batchHeader", () => {
  it("names the task and its node", () => {
    assert.equal(batchHeader({ task_id: "7", assigned_node: "gpu1", target_node: null }), "==> task 7 on gpu1 <==");
    assert.equal(
      batchHeader({ task_id: "7", assigned_node: null, target_node: "gpu2" }, "stderr"),
      "==> task 7 on gpu2, stderr <==",
    );
    assert.equal(batchHeader({ task_id: "7", assigned_node: null, target_node: null }), "==> task 7 <==");
  });
});
