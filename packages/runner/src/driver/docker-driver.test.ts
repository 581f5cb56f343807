import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { containerSpec, runDriverConformance, TEST_LABEL, type ScriptedRun } from "./driver-conformance.fixture.js";
import { DockerDriver, MANAGED_LABEL } from "./docker-driver.js";
import { DriverOperationError, EngineUnavailableError, type TaskContainerSpec } from "./types.js";

/** The engine under test; another dockerd (for example one in a network namespace) can be chosen. */
const SOCKET_PATH = process.env.KOHAKURIVER_TEST_DOCKER_SOCKET ?? "/var/run/docker.sock";
const IMAGE = "kohakuriver/kohakuriver-base:base";

/** Outside CI the suite is skipped with this reason when Docker or the base image is missing; in CI it fails. */
async function findSkipReason(): Promise<string | undefined> {
  if (process.env.CI === "true") {
    return undefined;
  }
  const driver = new DockerDriver({ socketPath: SOCKET_PATH });
  try {
    await driver.ping();
  } catch (error) {
    return (error as Error).message;
  }
  if (!(await driver.imageExists(IMAGE))) {
    return `image ${IMAGE} is missing, build it with scripts/build-base-image.sh`;
  }
  return undefined;
}

const skip = await findSkipReason();
if (skip !== undefined) {
  console.log(`# skipping Docker driver tests: ${skip}`);
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Builds a busybox shell script that behaves as `run`. */
function shellScript(run: ScriptedRun): string[] {
  const steps = [`printf '%s' ${shellQuote(run.stdout)}`, `printf '%s' ${shellQuote(run.stderr)} >&2`];
  if (run.durationMs === "forever") {
    steps.push("exec sleep 3600");
  } else {
    if (run.durationMs > 0) {
      steps.push(`sleep ${run.durationMs / 1000}`);
    }
    steps.push(`printf '%s' ${shellQuote(run.laterStdout ?? "")}`, `exit ${run.exitCode}`);
  }
  return ["/bin/sh", "-c", steps.join("; ")];
}

const sharedDriver = new DockerDriver({ socketPath: SOCKET_PATH });

async function removeNetwork(name: string): Promise<void> {
  await sharedDriver.docker
    .getNetwork(name)
    .remove()
    .catch(() => undefined);
}

runDriverConformance(
  "DockerDriver",
  () => sharedDriver,
  {
    image: IMAGE,
    missingImage: `kohakuriver-test/absent-${randomBytes(4).toString("hex")}:none`,
    script: (_driver, _name, run) => shellScript(run),
    removeNetwork,
  },
  skip === undefined ? {} : { skip },
);

describe("DockerDriver engine specifics", { skip: skip ?? false }, () => {
  const driver = sharedDriver;
  const runId = randomBytes(4).toString("hex");
  const labels = { ...TEST_LABEL, "kohakuriver.docker-test": runId };
  const networks: string[] = [];
  const images: string[] = [];
  let tempDir: string;

  function spec(suffix: string, cmd: string[], extra: Partial<TaskContainerSpec> = {}): TaskContainerSpec {
    return containerSpec({
      name: `kr-docker-test-${runId}-${suffix}`,
      image: IMAGE,
      cmd,
      labels: { ...labels },
      ...extra,
    });
  }

  async function runToEnd(
    containerSpec: TaskContainerSpec,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    await driver.createContainer(containerSpec);
    await driver.startContainer(containerSpec.name);
    const exitCode = await driver.waitContainer(containerSpec.name);
    const files = {
      stdoutPath: join(tempDir, containerSpec.name, "out"),
      stderrPath: join(tempDir, containerSpec.name, "err"),
    };
    await driver.captureLogs(containerSpec.name, files);
    return {
      exitCode,
      stdout: await readFile(files.stdoutPath, "utf8"),
      stderr: await readFile(files.stderrPath, "utf8"),
    };
  }

  before(async () => {
    tempDir = await mkdtemp(join(tmpdir(), "kr-docker-driver-"));
  });

  after(async () => {
    for (const state of await driver.listContainers({ "kohakuriver.docker-test": runId })) {
      await driver.removeContainer(state.name);
    }
    for (const name of networks) {
      await removeNetwork(name);
    }
    for (const image of images) {
      await driver.docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await rm(tempDir, { recursive: true, force: true });
  });

  test("keeps a last line without newline", async () => {
    // The follow stream can end before the engine stores output written just before the exit.
    const containerSpec = spec("partial-line", ["sh", "-c", "printf abc; printf err >&2; sleep 0.5"]);
    await driver.createContainer(containerSpec);
    await driver.startContainer(containerSpec.name);
    const files = {
      stdoutPath: join(tempDir, containerSpec.name, "out"),
      stderrPath: join(tempDir, containerSpec.name, "err"),
    };
    // Capture while it runs, as the runner does.
    await Promise.all([driver.waitContainer(containerSpec.name), driver.captureLogs(containerSpec.name, files)]);
    assert.equal(await readFile(files.stdoutPath, "utf8"), "abc");
    assert.equal(await readFile(files.stderrPath, "utf8"), "err");
  });

  test("memory limit OOM kill sets oomKilled", async () => {
    const containerSpec = spec(
      "oom",
      ["/bin/sh", "-c", `x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived`],
      {
        memoryBytes: 32 * 1024 * 1024,
      },
    );

    const result = await runToEnd(containerSpec);

    const state = await driver.inspectContainer(containerSpec.name);
    assert.equal(result.exitCode, 137);
    assert.equal(state?.oomKilled, true);
    assert.equal(state?.exitCode, 137);
  });

  test("limits and log config reach HostConfig", async () => {
    const containerSpec = spec("limits", ["true"], {
      cores: 1.5,
      memoryBytes: 64 * 1024 * 1024,
      cpusetCpus: "0",
      cpusetMems: "0",
      capAdd: ["SYS_NICE"],
      workingDir: "/tmp",
    });
    await driver.createContainer(containerSpec);

    const info = await driver.docker.getContainer(containerSpec.name).inspect();
    assert.equal(info.HostConfig.NanoCpus, 1_500_000_000);
    assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(info.HostConfig.CpusetCpus, "0");
    assert.equal(info.HostConfig.CpusetMems, "0");
    assert.deepEqual(info.HostConfig.CapAdd, ["SYS_NICE"]);
    assert.equal(info.HostConfig.Privileged, false);
    assert.equal(info.HostConfig.AutoRemove, false);
    assert.equal(info.HostConfig.RestartPolicy?.Name, "no");
    assert.equal(info.HostConfig.LogConfig?.Type, "json-file");
    assert.equal(info.Config.WorkingDir, "/tmp");
  });

  test("GPU ids become an NVIDIA device request", async () => {
    const containerSpec = spec("gpu", ["true"], { gpuIds: [0, 1] });
    await driver.createContainer(containerSpec);

    const info = await driver.docker.getContainer(containerSpec.name).inspect();
    const requests = (info.HostConfig as { DeviceRequests?: unknown }).DeviceRequests;
    assert.deepEqual(requests, [
      { Driver: "nvidia", Count: 0, DeviceIDs: ["0", "1"], Capabilities: [["gpu"]], Options: null },
    ]);
  });

  test("exec form passes arguments unchanged", async () => {
    const result = await runToEnd(spec("argv", ["printf", "%s|", "a b", "it's", "$HOME", ""]));

    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, "a b|it's|$HOME||");
  });

  test("image ENTRYPOINT is cleared for cmd", async () => {
    const base = spec("entrypoint-base", ["true"]);
    await driver.createContainer(base);
    const repository = `kohakuriver-test/entrypoint-${runId}`;
    await driver.docker.getContainer(base.name).commit({
      repo: repository,
      tag: "test",
      changes: 'ENTRYPOINT ["/bin/echo", "from-entrypoint"]',
    });
    images.push(`${repository}:test`);

    const direct = await runToEnd(spec("entrypoint-direct", ["echo", "direct"], { image: `${repository}:test` }));
    const imageDefault = await runToEnd(spec("entrypoint-default", [], { image: `${repository}:test` }));

    assert.equal(direct.stdout, "direct\n");
    assert.match(imageDefault.stdout, /^from-entrypoint/);
  });

  test("env, working dir and binds reach the container", async () => {
    const dataDir = join(tempDir, "data");
    const readOnlyDir = join(tempDir, "read-only");
    await mkdir(dataDir);
    await mkdir(readOnlyDir);
    await writeFile(join(dataDir, "in.txt"), "from host\n");
    const script =
      'echo "$GREETING"; pwd; cat /data/in.txt; echo written > /data/out.txt; (echo x > /ro/f) 2>/dev/null || echo read-only';

    const result = await runToEnd(
      spec("binds", ["/bin/sh", "-c", script], {
        env: { GREETING: "hello world" },
        workingDir: "/data",
        binds: [
          { source: dataDir, target: "/data" },
          { source: readOnlyDir, target: "/ro", readOnly: true },
        ],
      }),
    );

    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, "hello world\n/data\nfrom host\nread-only\n");
    assert.equal(await readFile(join(dataDir, "out.txt"), "utf8"), "written\n");
  });

  test("missing bind source names the container", async () => {
    const containerSpec = spec("bad-bind", ["true"], {
      binds: [{ source: join(tempDir, "does-not-exist"), target: "/x" }],
    });

    await assert.rejects(driver.createContainer(containerSpec), (error: unknown) => {
      assert.ok(error instanceof DriverOperationError);
      assert.match(error.message, new RegExp(`create container ${containerSpec.name}`));
      assert.match(error.message, /does-not-exist/);
      return true;
    });
  });

  test("captureLogs keeps large interleaved output", async () => {
    const script =
      "for i in 1 2 3 4; do head -c 1000000 /dev/zero | tr '\\0' o; head -c 250000 /dev/zero | tr '\\0' e >&2; done";
    const result = await runToEnd(spec("large", ["/bin/sh", "-c", script]));

    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout.length, 4_000_000);
    assert.equal(result.stderr.length, 1_000_000);
    assert.match(result.stdout, /^o+$/);
    assert.match(result.stderr, /^e+$/);
  });

  test("ensureNetwork and fixed IP address", async () => {
    const octet = 150 + Math.floor(Math.random() * 50);
    const name = `kr-docker-test-${runId}-net`;
    networks.push(name);

    assert.equal(await driver.ensureNetwork(name, `172.31.${octet}.0/24`, `172.31.${octet}.1`), name);
    const network = await driver.docker.getNetwork(name).inspect();
    assert.equal(network.Labels?.[MANAGED_LABEL], "true");

    const containerSpec = spec("fixed-ip", ["true"], { network: name, ipAddress: `172.31.${octet}.10` });
    await driver.createContainer(containerSpec);
    const info = await driver.docker.getContainer(containerSpec.name).inspect();
    assert.equal(info.HostConfig.NetworkMode, name);
    assert.equal(info.NetworkSettings.Networks[name]?.IPAMConfig?.IPv4Address, `172.31.${octet}.10`);
  });

  test("unreachable socket names the path", async () => {
    const socketPath = join(tempDir, "no-engine.sock");
    const unreachable = new DockerDriver({ socketPath });

    await assert.rejects(unreachable.ping(), (error: unknown) => {
      assert.ok(error instanceof EngineUnavailableError);
      assert.match(error.message, new RegExp(socketPath.replace(/[.]/g, "\\.")));
      return true;
    });
    await assert.rejects(unreachable.inspectContainer("x"), EngineUnavailableError);
    await assert.rejects(stat(socketPath));
  });
});
