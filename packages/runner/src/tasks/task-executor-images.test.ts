import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";

import { LABEL_ENVIRONMENT_TIMESTAMP, TaskExecuteRequestSchema } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";

import { resolveRunnerConfig } from "../config.js";
import { FakeDriver, fakeImageTarball } from "../driver/fake-driver.js";
import { EnvironmentSync } from "../environments/environment-sync.js";
import { RunnerState } from "../state/runner-state.js";
import type { StatusReporter } from "./status-reporter.js";
import { TaskExecutor } from "./task-executor.js";

const logger = createLogger({ name: "test", level: "silent" });
/** Never pulled for real: the fake driver serves it from its list of registry images. */
const REGISTRY_IMAGE = "127.0.0.1:5000/team/tool:1";

describe("TaskExecutor images", () => {
  let dir: string;
  let driver: FakeDriver;
  let state: RunnerState;
  let progress: Array<[string, string]>;

  function executor(): TaskExecutor {
    const config = resolveRunnerConfig({
      SHARED_DIR: join(dir, "shared"),
      LOCAL_TEMP_DIR: join(dir, "tmp"),
      RUNNER_STATE_DIR: join(dir, "state"),
    });
    const reporter = {
      kick: () => undefined,
      progress: (taskId: string, message: string) => progress.push([taskId, message]),
    } as unknown as StatusReporter;
    const environments = new EnvironmentSync({
      config,
      driver,
      hostUrl: "http://127.0.0.1:1",
      clusterToken: "unused",
      logger,
    });
    return new TaskExecutor({
      config,
      nodeName: "n1",
      driver,
      state,
      reporter,
      logger,
      network: null,
      numaTopology: null,
      environments,
    });
  }

  async function finished(taskId: string) {
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const report = state.get(taskId)?.final_report;
      if (report !== null && report !== undefined) return report;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`task ${taskId} did not finish`);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kr-executor-images-"));
    mkdirSync(join(dir, "shared", "kohakuriver-containers"), { recursive: true });
    driver = new FakeDriver({ registryImages: [REGISTRY_IMAGE] });
    state = new RunnerState(join(dir, "state", "runner-state.json"));
    progress = [];
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("pulls a missing registry image with progress", async () => {
    await executor().accept(
      TaskExecuteRequestSchema.parse({
        task_id: "101",
        command: "true",
        shell: false,
        registry_image: REGISTRY_IMAGE,
        docker_image_name: REGISTRY_IMAGE,
      }),
    );
    const report = await finished("101");
    assert.equal(report.status, "completed", report.message ?? "");
    assert.ok(await driver.imageExists(REGISTRY_IMAGE));
    assert.ok(
      progress.some(([taskId, message]) => taskId === "101" && message.startsWith(`Pulling image ${REGISTRY_IMAGE}`)),
    );
  });

  it("failed pull fails with the reason", async () => {
    const image = "127.0.0.1:5000/team/absent:1";
    await executor().accept(
      TaskExecuteRequestSchema.parse({
        task_id: "102",
        command: "true",
        shell: false,
        registry_image: image,
        docker_image_name: image,
      }),
    );
    const report = await finished("102");
    assert.equal(report.status, "failed");
    assert.match(report.message ?? "", /^Failed to pull image 127\.0\.0\.1:5000\/team\/absent:1: pull access denied/);
  });

  it("loads the environment before starting", async () => {
    writeFileSync(
      join(dir, "shared", "kohakuriver-containers", "tools-1800000000.tar"),
      fakeImageTarball(["kohakuriver/tools:base"], { [LABEL_ENVIRONMENT_TIMESTAMP]: "1800000000" }),
    );
    await executor().accept(
      TaskExecuteRequestSchema.parse({
        task_id: "103",
        command: "true",
        shell: false,
        container_name: "tools",
        docker_image_name: "kohakuriver/tools:base",
      }),
    );
    const report = await finished("103");
    assert.equal(report.status, "completed", report.message ?? "");
    assert.equal(driver.loadCount, 1);
    assert.ok(progress.some(([, message]) => message.startsWith("Loading environment tools")));
  });

  it("corrupt environment tarball fails the task", async () => {
    const path = join(dir, "shared", "kohakuriver-containers", "tools-1800000000.tar");
    writeFileSync(path, "not a tarball");
    await executor().accept(
      TaskExecuteRequestSchema.parse({
        task_id: "104",
        command: "true",
        shell: false,
        container_name: "tools",
        docker_image_name: "kohakuriver/tools:base",
      }),
    );
    const report = await finished("104");
    assert.equal(report.status, "failed");
    assert.ok(report.message?.includes(path), report.message ?? "");
  });
});
