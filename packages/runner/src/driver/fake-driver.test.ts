import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { runDriverConformance, type ScriptedRun } from "./driver-conformance.fixture.js";
import { FakeDriver } from "./fake-driver.js";
import { EngineUnavailableError, type TaskContainerSpec, type WorkloadDriver } from "./types.js";

const IMAGE = "kohakuriver/kohakuriver-base:base";

runDriverConformance("FakeDriver", () => new FakeDriver({ images: [IMAGE] }), {
  image: IMAGE,
  missingImage: "kohakuriver-test/absent:none",
  script(driver: WorkloadDriver, name: string, run: ScriptedRun): string[] {
    (driver as FakeDriver).setBehaviour(name, {
      stdout: run.stdout,
      stderr: run.stderr,
      exitCode: run.exitCode,
      durationMs: run.durationMs === "forever" ? Infinity : run.durationMs,
      laterStdout: run.laterStdout ?? "",
    });
    return ["scripted"];
  },
});

function spec(name: string, image = IMAGE): TaskContainerSpec {
  return {
    name,
    image,
    cmd: ["true"],
    env: { A: "1" },
    labels: { "kohakuriver.task_id": "1" },
    workingDir: "/shared",
    binds: [],
    cores: 2,
    memoryBytes: 1024,
    cpusetCpus: null,
    cpusetMems: null,
    gpuIds: [0],
    privileged: false,
    capAdd: [],
    network: null,
    ipAddress: null,
  };
}

describe("FakeDriver", () => {
  test("default behaviour exits 0", async () => {
    const driver = new FakeDriver();
    await driver.createContainer(spec("default"));
    await driver.startContainer("default");

    assert.equal(await driver.waitContainer("default"), 0);
  });

  test("image behaviour applies to its containers", async () => {
    const driver = new FakeDriver({ images: [IMAGE, "other:tag"] });
    driver.setBehaviour("other:tag", { exitCode: 9 });
    await driver.createContainer(spec("by-image", "other:tag"));
    await driver.startContainer("by-image");

    assert.equal(await driver.waitContainer("by-image"), 9);
  });

  test("oom behaviour sets oomKilled", async () => {
    const driver = new FakeDriver({ behaviours: { oom: { oom: true, durationMs: 5 } } });
    await driver.createContainer(spec("oom"));
    await driver.startContainer("oom");

    assert.equal(await driver.waitContainer("oom"), 137);
    const state = await driver.inspectContainer("oom");
    assert.equal(state?.oomKilled, true);
    assert.equal(state?.exitCode, 137);
  });

  test("pause holds the remaining duration", async () => {
    const driver = new FakeDriver({ behaviours: { slow: { durationMs: 50, exitCode: 2 } } });
    await driver.createContainer(spec("slow"));
    await driver.startContainer("slow");
    await driver.pauseContainer("slow");

    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await driver.inspectContainer("slow"))?.status, "paused");

    await driver.unpauseContainer("slow");
    assert.equal(await driver.waitContainer("slow"), 2);
  });

  test("kill with SIGTERM gives 143", async () => {
    const driver = new FakeDriver({ behaviours: { term: { durationMs: Infinity } } });
    await driver.createContainer(spec("term"));
    await driver.startContainer("term");

    await driver.killContainer("term", "SIGTERM");

    assert.equal(await driver.waitContainer("term"), 143);
  });

  test("specOf returns the created spec", async () => {
    const driver = new FakeDriver();
    await driver.createContainer(spec("recorded"));

    assert.deepEqual(driver.specOf("recorded"), spec("recorded"));
    assert.equal(driver.specOf("unknown"), undefined);
  });

  test("unreachable engine rejects calls", async () => {
    const driver = new FakeDriver();
    driver.setReachable(false);

    await assert.rejects(driver.ping(), EngineUnavailableError);
    await assert.rejects(driver.listContainers({}), EngineUnavailableError);
    driver.setReachable(true);
    await driver.ping();
  });
});
