import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { LABEL_ENVIRONMENT_TIMESTAMP, environmentImageTag } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";

import { resolveRunnerConfig } from "../config.js";
import { FakeDriver, fakeImageTarball } from "../driver/fake-driver.js";
import { EnvironmentSync, EnvironmentSyncError } from "./environment-sync.js";

/** A fake engine whose loads take a while and that records how many ran at the same time. */
class SlowLoadDriver extends FakeDriver {
  running = 0;
  maxRunning = 0;

  override async loadImage(tarball: NodeJS.ReadableStream): Promise<string[]> {
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return await super.loadImage(tarball);
    } finally {
      this.running -= 1;
    }
  }
}

describe("EnvironmentSync", () => {
  let directory: string;
  let tarballs: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), "kr-sync-"));
    tarballs = join(directory, "shared", "kohakuriver-containers");
    mkdirSync(tarballs, { recursive: true });
  });

  after(() => rmSync(directory, { recursive: true, force: true }));

  function publish(environment: string, timestamp: number, contents?: string): string {
    const path = join(tarballs, `${environment}-${timestamp}.tar`);
    const tag = environmentImageTag(environment);
    writeFileSync(path, contents ?? fakeImageTarball([tag], { [LABEL_ENVIRONMENT_TIMESTAMP]: String(timestamp) }));
    return path;
  }

  function makeSync(driver: FakeDriver, timeoutSeconds = 600): EnvironmentSync {
    return new EnvironmentSync({
      config: resolveRunnerConfig({
        SHARED_DIR: join(directory, "shared"),
        RUNNER_STATE_DIR: join(directory, "state"),
        DOCKER_IMAGE_SYNC_TIMEOUT: timeoutSeconds,
      }),
      driver,
      // Never contacted: the shared tarball directory exists.
      hostUrl: "http://127.0.0.1:1",
      clusterToken: "unused",
      logger: createLogger({ name: "test", level: "silent" }),
    });
  }

  it("loads only newer tarballs", async () => {
    const driver = new FakeDriver();
    const sync = makeSync(driver);
    publish("alpha", 1_800_000_000);

    const first = await sync.ensure("alpha");
    assert.equal(first.loaded, true);
    assert.equal(driver.loadCount, 1);

    const again = await sync.ensure("alpha");
    assert.equal(again.loaded, false);
    assert.equal(driver.loadCount, 1);

    publish("alpha", 1_800_000_100);
    const newer = await sync.ensure("alpha");
    assert.equal(newer.loaded, true);
    assert.equal(newer.timestamp, 1_800_000_100);
    assert.equal(driver.loadCount, 2);
  });

  it("ten concurrent requests load once", async () => {
    const driver = new SlowLoadDriver();
    const sync = makeSync(driver);
    publish("beta", 1_800_000_000);

    const results = await Promise.all(Array.from({ length: 10 }, () => sync.ensure("beta")));
    assert.equal(driver.loadCount, 1);
    assert.equal(sync.loadCount, 1);
    for (const result of results) assert.equal(result.loaded, true);
  });

  it("two environments load in parallel", async () => {
    const driver = new SlowLoadDriver();
    const sync = makeSync(driver);
    publish("gamma", 1_800_000_000);
    publish("delta", 1_800_000_000);

    await Promise.all([sync.ensure("gamma"), sync.ensure("delta")]);
    assert.equal(driver.loadCount, 2);
    assert.equal(driver.maxRunning, 2);
  });

  it("corrupt tarball names the file and keeps the image", async () => {
    const driver = new FakeDriver();
    const sync = makeSync(driver);
    publish("epsilon", 1_800_000_000);
    await sync.ensure("epsilon");
    const before = await driver.inspectImage(environmentImageTag("epsilon"));

    const broken = publish("epsilon", 1_800_000_200, "truncated tar dat");
    await assert.rejects(sync.ensure("epsilon"), (error: unknown) => {
      assert.ok(error instanceof EnvironmentSyncError);
      assert.ok(error.message.includes(broken), error.message);
      return true;
    });
    const after = await driver.inspectImage(environmentImageTag("epsilon"));
    assert.deepEqual(after?.labels, before?.labels);
    assert.equal(driver.loadCount, 1);
  });

  it("reports load progress", async () => {
    const driver = new FakeDriver();
    const sync = makeSync(driver);
    publish("zeta", 1_800_000_000);
    const messages: string[] = [];

    await sync.ensure("zeta", (message) => messages.push(message));
    assert.ok(
      messages.some((message) => message.startsWith("Loading environment zeta from zeta-1800000000.tar")),
      messages.join("\n"),
    );
  });

  it("slow load times out", async () => {
    const driver = new SlowLoadDriver();
    const sync = makeSync(driver, 0.05);
    publish("eta", 1_800_000_000);

    await assert.rejects(sync.ensure("eta"), (error: unknown) => {
      assert.ok(error instanceof EnvironmentSyncError);
      assert.match(error.message, /timed out after 0\.05 s; raise DOCKER_IMAGE_SYNC_TIMEOUT/);
      return true;
    });
    assert.equal(sync.loadCount, 0);
  });

  it("environment without tarball loads nothing", async () => {
    const driver = new FakeDriver();
    const result = await makeSync(driver).ensure("missing-env");
    assert.deepEqual(result, { loaded: false, source: null, timestamp: null });
    assert.equal(driver.loadCount, 0);
  });
});
