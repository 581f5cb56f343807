import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";

import { TaskExecuteRequestSchema, taskContainerName } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";

import { resolveRunnerConfig } from "../config.js";
import { FakeDriver } from "../driver/fake-driver.js";
import { RunnerState } from "../state/runner-state.js";
import type { StatusReporter } from "./status-reporter.js";
import { buildTaskContainerSpec } from "./container-spec.js";
import { TaskExecutor } from "./task-executor.js";

const logger = createLogger({ name: "test", level: "silent" });

function request(taskId: string, overrides: Record<string, unknown> = {}) {
  return TaskExecuteRequestSchema.parse({
    task_id: taskId,
    command: "sh",
    arguments: ["-c", "echo hi"],
    shell: false,
    docker_image_name: "kohakuriver/kohakuriver-base:base",
    ...overrides,
  });
}

describe("TaskExecutor", () => {
  let dir: string;
  let driver: FakeDriver;
  let state: RunnerState;
  let kicks: number;

  function executor(): TaskExecutor {
    const config = resolveRunnerConfig({ SHARED_DIR: join(dir, "shared"), LOCAL_TEMP_DIR: join(dir, "tmp") });
    const reporter = { kick: () => (kicks += 1) } as unknown as StatusReporter;
    return new TaskExecutor({
      config,
      nodeName: "n1",
      driver,
      state,
      reporter,
      logger,
      network: null,
      numaTopology: null,
    });
  }

  async function finished(taskId: string, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const report = state.get(taskId)?.final_report;
      if (report !== null && report !== undefined) return report;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`task ${taskId} did not finish`);
  }

  async function removed(taskId: string): Promise<void> {
    while ((await driver.inspectContainer(taskContainerName(taskId))) !== null) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kr-executor-"));
    driver = new FakeDriver();
    state = new RunnerState(join(dir, "state", "runner-state.json"));
    kicks = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("records an accepted task on disk before it resolves", async () => {
    const result = await executor().accept(request("1"));
    assert.equal(result.alreadyAccepted, false);
    const onDisk = JSON.parse(readFileSync(join(dir, "state", "runner-state.json"), "utf8")) as {
      tasks: Record<string, unknown>;
    };
    assert.ok(onDisk.tasks["1"]);
    await finished("1");
    await removed("1");
  });

  it("treats a repeated dispatch as the same task", async () => {
    const runner = executor();
    await runner.accept(request("2"));
    assert.equal((await runner.accept(request("2"))).alreadyAccepted, true);
    await finished("2");
    await removed("2");
    assert.equal(driver.specOf(taskContainerName("2")), undefined);
  });

  it("never reruns a finished task", async () => {
    const runner = executor();
    await runner.accept(request("11"));
    await finished("11");
    await removed("11");
    // The host stored the final status: the reporter moves the task to the finished ids.
    await state.finish("11");

    assert.equal((await runner.accept(request("11"))).alreadyAccepted, true);
    assert.equal(state.get("11"), undefined);
    assert.equal(await driver.inspectContainer(taskContainerName("11")), null);

    const reloaded = new RunnerState(join(dir, "state", "runner-state.json"));
    reloaded.load();
    assert.equal(reloaded.hasFinished("11"), true);
  });

  it("reports the exit code and captures both streams", async () => {
    driver.setBehaviour(taskContainerName("3"), { exitCode: 3, stdout: "out\n", stderr: "err\n" });
    await executor().accept(request("3"));
    const report = await finished("3");
    assert.equal(report.status, "failed");
    assert.equal(report.exit_code, 3);
    assert.match(report.message ?? "", /code 3.*err/);
    assert.equal(readFileSync(join(dir, "shared", "logs", "3", "stdout.log"), "utf8"), "out\n");
    assert.equal(readFileSync(join(dir, "shared", "logs", "3", "stderr.log"), "utf8"), "err\n");
    assert.ok(kicks > 0);
    await removed("3");
  });

  it("ends an out-of-memory kill as killed_oom", async () => {
    driver.setBehaviour(taskContainerName("4"), { oom: true });
    await executor().accept(request("4", { required_memory_bytes: 1000 }));
    const report = await finished("4");
    assert.equal(report.status, "killed_oom");
    assert.match(report.message ?? "", /1000 bytes/);
    await removed("4");
  });

  it("ends a requested kill as killed and removes the container", async () => {
    driver.setBehaviour(taskContainerName("5"), { durationMs: Infinity });
    const runner = executor();
    await runner.accept(request("5"));
    while (state.get("5")?.phase !== "started") await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await runner.kill("5"), true);
    assert.equal((await finished("5")).status, "killed");
    assert.equal(await driver.inspectContainer(taskContainerName("5")), null);
  });

  it("fails a task whose image is missing and names the image", async () => {
    await executor().accept(request("6", { docker_image_name: "kohakuriver/missing:base" }));
    const report = await finished("6");
    assert.equal(report.status, "failed");
    assert.match(report.message ?? "", /kohakuriver\/missing:base not found on node n1/);
  });

  /** Creates and starts a task container the way an earlier runner process would have. */
  async function startedByEarlierRunner(taskId: string): Promise<string | null> {
    const config = resolveRunnerConfig({ SHARED_DIR: join(dir, "shared"), LOCAL_TEMP_DIR: join(dir, "tmp") });
    const spec = buildTaskContainerSpec(request(taskId), { config, nodeName: "n1", network: null, numaTopology: null });
    await driver.createContainer(spec);
    await driver.startContainer(spec.name);
    return (await driver.inspectContainer(spec.name))?.startedAt ?? null;
  }

  it("watches a running container after a restart without starting it again", async () => {
    driver.setBehaviour(taskContainerName("7"), { durationMs: 200, exitCode: 7 });
    const startedAt = await startedByEarlierRunner("7");
    await state.put({
      task_id: "7",
      container_name: taskContainerName("7"),
      request: request("7"),
      accepted_at: new Date().toISOString(),
      phase: "started",
      started_at: startedAt,
      kill_requested: false,
      running_reported: true,
      final_report: null,
    });

    executor().resumeAll();
    const report = await finished("7");
    assert.equal(report.exit_code, 7);
    assert.equal(report.started_at, startedAt);
    assert.equal((await driver.inspectContainer(taskContainerName("7")))?.startedAt ?? startedAt, startedAt);
    await removed("7");
  });

  it("starts a container that was created but never started", async () => {
    const runner = executor();
    await state.put({
      task_id: "8",
      container_name: taskContainerName("8"),
      request: request("8"),
      accepted_at: new Date().toISOString(),
      phase: "accepted",
      started_at: null,
      kill_requested: false,
      running_reported: false,
      final_report: null,
    });
    runner.resumeAll();
    assert.equal((await finished("8")).status, "completed");
    await removed("8");
  });

  it("adopts a labelled container that has no state entry", async () => {
    driver.setBehaviour(taskContainerName("9"), { durationMs: 100, exitCode: 0 });
    await startedByEarlierRunner("9");
    const adopted = await executor().adoptOrphans();
    assert.equal(adopted, 1);
    assert.equal(state.get("9")?.phase, "started");
    assert.equal((await finished("9")).status, "completed");
    await removed("9");
  });

  it("never starts a task killed before its start", async () => {
    const runner = executor();
    await state.put({
      task_id: "10",
      container_name: taskContainerName("10"),
      request: request("10"),
      accepted_at: new Date().toISOString(),
      phase: "accepted",
      started_at: null,
      kill_requested: true,
      running_reported: false,
      final_report: null,
    });
    runner.resumeAll();
    assert.equal((await finished("10")).status, "killed");
    assert.equal(await driver.inspectContainer(taskContainerName("10")), null);
  });
});
