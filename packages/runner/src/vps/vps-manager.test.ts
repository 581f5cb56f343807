import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";

import { RunnerVpsCreateRequestSchema, snapshotRepository, vpsContainerName } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";

import { resolveRunnerConfig, type RunnerConfig } from "../config.js";
import { FakeDriver } from "../driver/fake-driver.js";
import { RunnerState, finishedKey } from "../state/runner-state.js";
import type { StatusReporter } from "../tasks/status-reporter.js";
import { VpsManager } from "./vps-manager.js";

const logger = createLogger({ name: "test", level: "silent" });
const IMAGE = "kohakuriver/kohakuriver-base:base";

function request(taskId: string, overrides: Record<string, unknown> = {}) {
  return RunnerVpsCreateRequestSchema.parse({ task_id: taskId, docker_image_name: IMAGE, ...overrides });
}

describe("VpsManager", () => {
  let dir: string;
  let driver: FakeDriver;
  let state: RunnerState;
  let managers: VpsManager[];

  function manager(config: Partial<RunnerConfig> = {}): VpsManager {
    const created = new VpsManager({
      config: resolveRunnerConfig({ SHARED_DIR: join(dir, "shared"), LOCAL_TEMP_DIR: join(dir, "tmp"), ...config }),
      nodeName: "n1",
      driver,
      state,
      reporter: { kick: () => undefined } as unknown as StatusReporter,
      logger,
      network: null,
    });
    managers.push(created);
    return created;
  }

  async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      if (await condition()) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kr-vps-"));
    driver = new FakeDriver({ behaviours: { [IMAGE]: { durationMs: Infinity } } });
    state = new RunnerState(join(dir, "state", "runner-state.json"));
    managers = [];
  });
  afterEach(async () => {
    for (const created of managers) created.close();
    // Containers that run forever are removed so that no fake timer or waiter outlives the test.
    for (const container of await driver.listContainers({})) await driver.removeContainer(container.name);
    await state.flushed();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a VPS once per generation", async () => {
    const vps = manager();
    assert.equal((await vps.accept(request("1"))).alreadyAccepted, false);
    assert.equal((await vps.accept(request("1"))).alreadyAccepted, true);
    await until(() => state.get("1")?.ready === true, "the VPS to be ready");

    const spec = driver.specOf(vpsContainerName("1"));
    assert.equal(spec?.restartPolicy, "unless-stopped");
    assert.equal(spec?.init, true);
    assert.deepEqual(spec?.publishPorts, [], "SSH disabled publishes no port");
    assert.equal(spec?.labels["kohakuriver.task_type"], "vps");
    assert.equal(spec?.env.KOHAKURIVER_SSH_KEY_MODE, "disabled");
  });

  it("publishes port 22 and passes the key in the environment", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExample user@host";
    await manager().accept(request("2", { ssh_key_mode: "upload", ssh_public_key: key }));
    await until(() => driver.specOf(vpsContainerName("2")) !== undefined, "the container");

    const spec = driver.specOf(vpsContainerName("2"));
    assert.deepEqual(spec?.publishPorts, [22]);
    assert.equal(spec?.env.KOHAKURIVER_SSH_AUTHORIZED_KEY, key);
    assert.ok(!spec?.cmd.join(" ").includes(key), "the key is not part of the command line");
  });

  it("stop commits a snapshot and removes the container", async () => {
    const vps = manager({ AUTO_SNAPSHOT_ON_STOP: true });
    await vps.accept(request("3"));
    await until(() => state.get("3")?.ready === true, "the VPS to be ready");

    assert.equal(await vps.stop("3", null), true);
    assert.equal(state.get("3")?.final_report?.status, "stopped");
    assert.equal(await driver.inspectContainer(vpsContainerName("3")), null);
    const snapshots = await vps.listSnapshots("3");
    assert.equal(snapshots.length, 1);
    assert.equal(snapshots[0]?.message, "Auto-snapshot on stop");
  });

  it("kill takes no snapshot", async () => {
    const vps = manager({ AUTO_SNAPSHOT_ON_STOP: true });
    await vps.accept(request("4"));
    await until(() => state.get("4")?.ready === true, "the VPS to be ready");

    assert.equal(await vps.kill("4"), true);
    assert.equal(state.get("4")?.final_report?.status, "killed");
    assert.deepEqual(await vps.listSnapshots("4"), []);
  });

  it("retention keeps the newest snapshots", async () => {
    const vps = manager({ MAX_SNAPSHOTS_PER_VPS: 2 });
    await vps.accept(request("5"));
    await until(() => state.get("5")?.ready === true, "the VPS to be ready");

    for (let index = 0; index < 4; index += 1) await vps.createSnapshot("5", `snapshot ${index}`);
    const snapshots = await vps.listSnapshots("5");
    assert.deepEqual(
      snapshots.map((snapshot) => snapshot.message),
      ["snapshot 3", "snapshot 2"],
    );
  });

  it("stop keeps the snapshot a restore needs", async () => {
    const vps = manager({ MAX_SNAPSHOTS_PER_VPS: 2, AUTO_SNAPSHOT_ON_STOP: true });
    await vps.accept(request("9"));
    await until(() => state.get("9")?.ready === true, "the VPS to be ready");
    for (let index = 0; index < 2; index += 1) await vps.createSnapshot("9", `snapshot ${index}`);
    const oldest = (await vps.listSnapshots("9")).at(-1);

    await vps.stop("9", true, oldest?.timestamp ?? null);
    const left = await vps.listSnapshots("9");
    assert.deepEqual(
      left.map((snapshot) => snapshot.message),
      ["Auto-snapshot on stop", "snapshot 0"],
      "the protected oldest snapshot survives and the limit holds",
    );
  });

  it("new generation restores the newest snapshot", async () => {
    const vps = manager({ AUTO_SNAPSHOT_ON_STOP: true, AUTO_RESTORE_ON_CREATE: true });
    await vps.accept(request("6"));
    await until(() => state.get("6")?.ready === true, "the VPS to be ready");
    await vps.stop("6", null);
    const [snapshot] = await vps.listSnapshots("6");

    assert.equal((await vps.accept(request("6", { generation: 1 }))).alreadyAccepted, false);
    await until(() => state.get("6")?.ready === true && state.get("6")?.generation === 1, "generation 1");
    assert.equal(driver.specOf(vpsContainerName("6"))?.image, snapshot?.tag);
    assert.equal(state.hasFinished(finishedKey("6", 0)), true, "generation 0 is remembered as finished");
    assert.equal((await vps.accept(request("6", { generation: 0 }))).alreadyAccepted, true, "old create ignored");
  });

  it("missing requested snapshot fails the VPS", async () => {
    const vps = manager();
    await vps.accept(request("7", { restore_snapshot: 12345 }));
    await until(() => state.get("7")?.final_report !== null, "the failure");
    assert.match(state.get("7")?.final_report?.message ?? "", /Snapshot 12345 of VPS 7 not found on node n1/);
    assert.equal(await driver.imageExists(`${snapshotRepository("7")}:12345`), false);
  });

  it("deleting an unknown snapshot is not found", async () => {
    await assert.rejects(manager().deleteSnapshot("8", 1), /snapshot 1 of VPS 8 not found/);
  });
});
