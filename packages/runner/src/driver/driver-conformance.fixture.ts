/**
 * The conformance suite that every WorkloadDriver passes, so the fake used in unit tests cannot drift from
 * Docker. Each test describes container behaviour as a ScriptedRun. The driver's adapter turns it into a
 * command (a shell script for Docker) or into scripted behaviour (the fake).
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";

import {
  ContainerExistsError,
  ContainerNotFoundError,
  ImageLoadError,
  ImageNotFoundError,
  ImagePullError,
  type TaskContainerSpec,
  type WorkloadDriver,
} from "./types.js";

/** What a test container does after it starts. */
/** Builds a container spec with no limits, mounts or network, for tests; `fields` sets the rest. */
export function containerSpec(
  fields: Pick<TaskContainerSpec, "name" | "image" | "cmd"> & Partial<TaskContainerSpec>,
): TaskContainerSpec {
  return {
    env: {},
    labels: {},
    workingDir: "",
    binds: [],
    cores: 0,
    memoryBytes: null,
    cpusetCpus: null,
    cpusetMems: null,
    gpuIds: [],
    privileged: false,
    capAdd: [],
    network: null,
    ipAddress: null,
    ...fields,
  };
}

export interface ScriptedRun {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Milliseconds before it exits by itself, or "forever" to run until killed. */
  durationMs: number | "forever";
  /** Output written after durationMs, just before exiting. */
  laterStdout?: string;
}

export interface ConformanceBehaviours {
  /** An image present on the engine. */
  image: string;
  /** An image that is certainly absent. */
  missingImage: string;
  /** Returns the command for a container named `name` that behaves as `run`, and scripts the driver if needed. */
  script(driver: WorkloadDriver, name: string, run: ScriptedRun): string[];
  /** Removes a network the suite created; the driver interface has no such operation. */
  removeNetwork?(name: string): Promise<void>;
}

export interface ConformanceOptions {
  /** Skips the whole suite with this reason. */
  skip?: string;
}

/** Label carried by every container these tests create, for cleanup by hand after a crash. */
export const TEST_LABEL = { "kohakuriver.test": "driver" } as const;

const QUICK: ScriptedRun = { stdout: "", stderr: "", exitCode: 0, durationMs: 0 };
const FOREVER: ScriptedRun = { stdout: "", stderr: "", exitCode: 0, durationMs: "forever" };

export function runDriverConformance(
  suiteName: string,
  makeDriver: () => WorkloadDriver | Promise<WorkloadDriver>,
  behaviours: ConformanceBehaviours,
  options: ConformanceOptions = {},
): void {
  describe(`${suiteName} conformance`, { skip: options.skip ?? false }, () => {
    const runId = randomBytes(4).toString("hex");
    const runLabels = { ...TEST_LABEL, "kohakuriver.conformance": runId };
    const created: string[] = [];
    let driver: WorkloadDriver;
    let tempDir: string;

    function specFor(suffix: string, run: ScriptedRun, extra: Partial<TaskContainerSpec> = {}): TaskContainerSpec {
      const name = `kr-conformance-${runId}-${suffix}`;
      created.push(name);
      return containerSpec({
        name,
        image: behaviours.image,
        cmd: behaviours.script(driver, name, run),
        labels: { ...runLabels },
        ...extra,
      });
    }

    async function startScripted(suffix: string, run: ScriptedRun): Promise<string> {
      const spec = specFor(suffix, run);
      await driver.createContainer(spec);
      await driver.startContainer(spec.name);
      return spec.name;
    }

    function logFiles(suffix: string) {
      return {
        stdoutPath: join(tempDir, suffix, "nested", "stdout.log"),
        stderrPath: join(tempDir, suffix, "nested", "stderr.log"),
      };
    }

    before(async () => {
      driver = await makeDriver();
      tempDir = await mkdtemp(join(tmpdir(), "kr-driver-conformance-"));
    });

    after(async () => {
      for (const name of created) {
        await driver.removeContainer(name).catch(() => undefined);
      }
      await rm(tempDir, { recursive: true, force: true });
    });

    test("run reports exit code and state", async () => {
      const name = await startScripted("exit", { ...QUICK, stdout: "out\n", stderr: "err\n", exitCode: 3 });

      assert.equal(await driver.waitContainer(name), 3);

      const state = await driver.inspectContainer(name);
      assert.ok(state !== null);
      assert.equal(state.name, name);
      assert.equal(state.image, behaviours.image);
      assert.equal(state.running, false);
      assert.equal(state.paused, false);
      assert.equal(state.status, "exited");
      assert.equal(state.exitCode, 3);
      assert.equal(state.oomKilled, false);
      assert.ok(state.startedAt !== null, "startedAt is set");
      assert.ok(state.finishedAt !== null, "finishedAt is set");
      assert.equal(state.labels["kohakuriver.conformance"], runId);
    });

    test("captureLogs separates stdout and stderr", async () => {
      const stdout = "first line\nsecond line with 'quotes' and $HOME\n";
      const stderr = "an error line\n";
      const name = await startScripted("logs", { ...QUICK, stdout, stderr, exitCode: 1 });
      await driver.waitContainer(name);

      const files = logFiles("logs");
      await driver.captureLogs(name, files);

      assert.equal(await readFile(files.stdoutPath, "utf8"), stdout);
      assert.equal(await readFile(files.stderrPath, "utf8"), stderr);
    });

    test("captureLogs twice gives identical files", async () => {
      const name = await startScripted("twice", { ...QUICK, stdout: "only once\n", stderr: "err once\n" });
      await driver.waitContainer(name);
      const files = logFiles("twice");
      await mkdir(join(tempDir, "twice", "nested"), { recursive: true });
      await writeFile(files.stdoutPath, "stale content from an earlier runner that is much longer\n");

      await driver.captureLogs(name, files);
      const firstOut = await readFile(files.stdoutPath, "utf8");
      const firstErr = await readFile(files.stderrPath, "utf8");
      await driver.captureLogs(name, files);

      assert.equal(firstOut, "only once\n");
      assert.equal(firstErr, "err once\n");
      assert.equal(await readFile(files.stdoutPath, "utf8"), firstOut);
      assert.equal(await readFile(files.stderrPath, "utf8"), firstErr);
    });

    test("captureLogs follows a running container", async () => {
      const run: ScriptedRun = { stdout: "early\n", stderr: "", exitCode: 4, durationMs: 1000, laterStdout: "late\n" };
      const name = await startScripted("follow", run);
      const files = logFiles("follow");

      await driver.captureLogs(name, files);

      assert.equal(await readFile(files.stdoutPath, "utf8"), "early\nlate\n");
      assert.equal(await driver.waitContainer(name), 4);
    });

    test("waitContainer returns at once after exit", async () => {
      const name = await startScripted("wait", { ...QUICK, exitCode: 5 });

      assert.equal(await driver.waitContainer(name), 5);
      assert.equal(await driver.waitContainer(name), 5);
    });

    test("duplicate name raises ContainerExistsError", async () => {
      const spec = specFor("duplicate", QUICK);
      await driver.createContainer(spec);

      await assert.rejects(driver.createContainer(spec), (error: unknown) => {
        assert.ok(error instanceof ContainerExistsError);
        assert.equal(error.containerName, spec.name);
        return true;
      });
    });

    test("missing image raises ImageNotFoundError", async () => {
      assert.equal(await driver.imageExists(behaviours.image), true);
      assert.equal(await driver.imageExists(behaviours.missingImage), false);

      const spec = specFor("no-image", QUICK, { image: behaviours.missingImage });
      await assert.rejects(driver.createContainer(spec), (error: unknown) => {
        assert.ok(error instanceof ImageNotFoundError);
        assert.equal(error.image, behaviours.missingImage);
        assert.match(error.message, new RegExp(behaviours.missingImage.replace(/[.:/]/g, "\\$&")));
        return true;
      });
      assert.equal(await driver.inspectContainer(spec.name), null);
    });

    test("kill stops a running container", async () => {
      const name = await startScripted("kill", FOREVER);
      assert.equal((await driver.inspectContainer(name))?.running, true);

      await driver.killContainer(name);

      assert.equal(await driver.waitContainer(name), 137);
      const state = await driver.inspectContainer(name);
      assert.equal(state?.running, false);
      assert.equal(state?.status, "exited");
      assert.equal(state?.exitCode, 137);
      assert.equal(state?.oomKilled, false);
      await driver.killContainer(name);
    });

    test("kill of a paused container stops it", async () => {
      const name = await startScripted("kill-paused", FOREVER);
      await driver.pauseContainer(name);

      await driver.killContainer(name);

      assert.equal(await driver.waitContainer(name), 137);
      assert.equal((await driver.inspectContainer(name))?.paused, false);
    });

    test("remove is idempotent", async () => {
      const exitedName = await startScripted("remove-exited", QUICK);
      await driver.waitContainer(exitedName);
      const runningName = await startScripted("remove-running", FOREVER);

      await driver.removeContainer(exitedName);
      await driver.removeContainer(exitedName);
      await driver.removeContainer(runningName);

      assert.equal(await driver.inspectContainer(exitedName), null);
      assert.equal(await driver.inspectContainer(runningName), null);
    });

    test("kill and remove of missing container", async () => {
      const name = `kr-conformance-${runId}-never-created`;

      await driver.killContainer(name);
      await driver.removeContainer(name);
      assert.equal(await driver.inspectContainer(name), null);
    });

    test("operations on missing container raise ContainerNotFoundError", async () => {
      const name = `kr-conformance-${runId}-absent`;

      await assert.rejects(driver.startContainer(name), ContainerNotFoundError);
      await assert.rejects(driver.waitContainer(name), ContainerNotFoundError);
      await assert.rejects(driver.pauseContainer(name), ContainerNotFoundError);
      await assert.rejects(driver.captureLogs(name, logFiles("absent")), ContainerNotFoundError);
    });

    test("pause and unpause show in inspect", async () => {
      const name = await startScripted("pause", FOREVER);

      await driver.pauseContainer(name);
      await driver.pauseContainer(name);
      const paused = await driver.inspectContainer(name);
      assert.equal(paused?.paused, true);
      assert.equal(paused?.status, "paused");
      assert.equal(paused?.running, true);

      await driver.unpauseContainer(name);
      await driver.unpauseContainer(name);
      const resumed = await driver.inspectContainer(name);
      assert.equal(resumed?.paused, false);
      assert.equal(resumed?.status, "running");
      await driver.killContainer(name);
    });

    test("listContainers filters by labels", async () => {
      const first = specFor("list-a", QUICK, { labels: { ...runLabels, role: "a" } });
      const second = specFor("list-b", QUICK, { labels: { ...runLabels, role: "b" } });
      await driver.createContainer(first);
      await driver.createContainer(second);
      await driver.startContainer(second.name);
      await driver.waitContainer(second.name);

      const onlyA = await driver.listContainers({ "kohakuriver.conformance": runId, role: "a" });
      const both = await driver.listContainers({ "kohakuriver.conformance": runId, role: "b" });
      const none = await driver.listContainers({ "kohakuriver.conformance": runId, role: "none" });

      assert.deepEqual(
        onlyA.map((state) => state.name),
        [first.name],
      );
      assert.equal(onlyA[0]?.status, "created");
      assert.equal(onlyA[0]?.exitCode, null);
      assert.equal(onlyA[0]?.startedAt, null);
      assert.deepEqual(
        both.map((state) => state.name),
        [second.name],
      );
      assert.equal(both[0]?.exitCode, 0);
      assert.deepEqual(none, []);
    });

    test("published port shows in inspect", async () => {
      const spec = specFor("publish", FOREVER, { publishPorts: [22] });
      await driver.createContainer(spec);
      await driver.startContainer(spec.name);

      const state = await driver.inspectContainer(spec.name);
      const hostPort = state?.publishedPorts["22/tcp"];
      assert.ok(hostPort !== undefined, "a host port for 22/tcp");
      assert.ok(hostPort > 0, `host port ${hostPort} is positive`);
      assert.ok(hostPort < 65536, `host port ${hostPort} is below 65536`);
      await driver.killContainer(spec.name);
    });

    test("readLogTail returns the last lines", async () => {
      const name = await startScripted("tail", { ...QUICK, stdout: "one\ntwo\nthree\n" });
      await driver.waitContainer(name);

      assert.equal(await driver.readLogTail(name, 2), "two\nthree\n");
    });

    test("commit, list and remove images", async () => {
      const repository = `kr-conformance-${runId}/snapshot`;
      const name = await startScripted("commit", QUICK);
      await driver.waitContainer(name);

      try {
        await driver.commitContainer(name, repository, "100", "first snapshot");
        await driver.commitContainer(name, repository, "200", "");
        const listed = await driver.listRepositoryImages(repository);

        assert.deepEqual(listed.map((image) => image.reference).sort(), [`${repository}:100`, `${repository}:200`]);
        assert.equal(listed.find((image) => image.tag === "100")?.comment, "first snapshot");
        assert.equal(listed.find((image) => image.tag === "200")?.comment, null);
        assert.ok(await driver.imageExists(`${repository}:100`));
        assert.deepEqual(await driver.listRepositoryImages(`${repository}-other`), []);

        await driver.removeImage(`${repository}:100`);
        await driver.removeImage(`${repository}:100`);
        assert.deepEqual(
          (await driver.listRepositoryImages(repository)).map((image) => image.tag),
          ["200"],
        );
      } finally {
        await driver.removeImage(`${repository}:100`).catch(() => undefined);
        await driver.removeImage(`${repository}:200`).catch(() => undefined);
      }
    });

    test("inspect of missing container is null", async () => {
      assert.equal(await driver.inspectContainer(`kr-conformance-${runId}-missing`), null);
    });

    test("ensureNetwork falls back on overlap", async () => {
      // A random /24 keeps parallel runs of the suite apart.
      const octet = 200 + Math.floor(Math.random() * 50);
      const subnet = `172.31.${octet}.0/24`;
      const gateway = `172.31.${octet}.1`;
      const firstName = `kr-conformance-${runId}-net`;
      const secondName = `kr-conformance-${runId}-net-overlap`;

      try {
        assert.equal(await driver.ensureNetwork(firstName, subnet, gateway), firstName);
        assert.equal(await driver.ensureNetwork(firstName, subnet, gateway), firstName);
        assert.equal(await driver.ensureNetwork(secondName, subnet, gateway), "bridge");
      } finally {
        await behaviours.removeNetwork?.(firstName);
        await behaviours.removeNetwork?.(secondName);
      }
    });

    test("inspectImage returns tags or null", async () => {
      const present = await driver.inspectImage(behaviours.image);
      assert.ok(present !== null);
      assert.ok(present.tags.includes(behaviours.image), `tags: ${present.tags.join(", ")}`);
      assert.equal(await driver.inspectImage(behaviours.missingImage), null);
      const listed = await driver.listImages();
      assert.ok(listed.some((image) => image.tags.includes(behaviours.image)));
    });

    test("loadImage rejects a truncated archive", async () => {
      const before = await driver.inspectImage(behaviours.image);
      // The first 700 bytes of a tar header block: cut off in the middle, as a truncated tarball is.
      const truncated = Buffer.alloc(700, 0x61);
      await assert.rejects(driver.loadImage(Readable.from([truncated])), ImageLoadError);
      assert.deepEqual((await driver.inspectImage(behaviours.image))?.id, before?.id);
    });

    test("pullImage from an unreachable registry fails with the reason", async () => {
      // Port 1 on loopback is closed, so the pull fails without contacting any other address.
      const image = "127.0.0.1:1/kohakuriver-conformance/absent:latest";
      await assert.rejects(driver.pullImage(image), (error: unknown) => {
        assert.ok(error instanceof ImagePullError, String(error));
        assert.equal(error.image, image);
        assert.ok(error.reason.length > 0);
        return true;
      });
      assert.equal(await driver.imageExists(image), false);
    });
  });
}
