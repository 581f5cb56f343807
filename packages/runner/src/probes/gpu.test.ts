import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { GpuInfoSchema } from "@kohakuriver/api";

import { GpuProbeError, NVIDIA_SMI_FIELDS, parseNvidiaSmiCsv, queryNvidiaGpus } from "./gpu.js";

const fixturesDir = fileURLToPath(new URL("./fixtures/", import.meta.url));

async function fixture(name: string): Promise<string> {
  return readFile(join(fixturesDir, name), "utf8");
}

describe("parseNvidiaSmiCsv", () => {
  test("8x H100 SXM recording", async () => {
    const gpus = parseNvidiaSmiCsv(await fixture("nvidia-smi-h100-sxm-8x.csv"));

    assert.equal(gpus.length, 8);
    assert.deepEqual(
      gpus.map((gpu) => gpu.gpu_id),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(gpus[0], {
      gpu_id: 0,
      name: "NVIDIA H100 80GB HBM3",
      driver_version: "550.90.07",
      pci_bus_id: "00000000:18:00.0",
      gpu_utilization: 100,
      graphics_clock_mhz: 1980,
      mem_utilization: 45,
      mem_clock_mhz: 2619,
      memory_total_mib: 81559,
      memory_used_mib: 74213,
      memory_free_mib: 6792,
      temperature: 61,
      fan_speed: -1,
      power_usage_mw: 612450,
      power_limit_mw: 700000,
    });
    assert.equal(gpus[7]?.pci_bus_id, "00000000:DB:00.0");
    assert.equal(gpus[7]?.power_usage_mw, 70150);
    for (const gpu of gpus) {
      assert.deepEqual(GpuInfoSchema.parse(gpu), gpu);
    }
  });

  test("consumer box with N/A fields", async () => {
    const gpus = parseNvidiaSmiCsv(await fixture("nvidia-smi-consumer-2x.csv"));

    assert.equal(gpus.length, 2);
    assert.equal(gpus[0]?.name, "NVIDIA GeForce RTX 3090");
    assert.equal(gpus[0]?.fan_speed, 54);
    assert.equal(gpus[0]?.power_usage_mw, 287530);
    assert.equal(gpus[1]?.name, "NVIDIA GeForce RTX 2080 Ti");
    assert.equal(gpus[1]?.fan_speed, -1);
    assert.equal(gpus[1]?.power_usage_mw, -1);
    assert.equal(gpus[1]?.power_limit_mw, -1);
    assert.equal(gpus[1]?.memory_total_mib, 11264);
  });

  test("empty and no-device output", async () => {
    assert.deepEqual(parseNvidiaSmiCsv(await fixture("nvidia-smi-empty.csv")), []);
    assert.deepEqual(parseNvidiaSmiCsv(await fixture("nvidia-smi-no-devices.txt")), []);
  });

  test("name containing a comma", () => {
    const line = "3, Vendor GPU, Rev B, 550.1, 00000000:01:00.0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10.5, 20";

    const [gpu] = parseNvidiaSmiCsv(line);

    assert.equal(gpu?.gpu_id, 3);
    assert.equal(gpu?.name, "Vendor GPU, Rev B");
    assert.equal(gpu?.driver_version, "550.1");
    assert.equal(gpu?.power_usage_mw, 10500);
    assert.equal(gpu?.power_limit_mw, 20000);
  });

  test("unparsable values become -1", () => {
    const line = "0, GPU, 1.0, bus, [Unknown Error], , abc, [GPU is lost], 1, 1, 1, 1, 1, 1e3, -";

    const [gpu] = parseNvidiaSmiCsv(line);

    assert.equal(gpu?.gpu_utilization, -1);
    assert.equal(gpu?.graphics_clock_mhz, -1);
    assert.equal(gpu?.mem_utilization, -1);
    assert.equal(gpu?.mem_clock_mhz, -1);
    assert.equal(gpu?.power_usage_mw, -1);
    assert.equal(gpu?.power_limit_mw, -1);
  });

  test("short and header lines are skipped", () => {
    const text = "index, name, driver_version\n0, GPU, 1.0\n\n";

    assert.deepEqual(parseNvidiaSmiCsv(text), []);
  });
});

describe("queryNvidiaGpus", () => {
  let tempDir: string;

  before(async () => {
    tempDir = await mkdtemp(join(tmpdir(), "kr-gpu-probe-"));
  });

  after(async () => {
    await rm(tempDir, { recursive: true, force: true });
  });

  async function fakeNvidiaSmi(name: string, script: string): Promise<string> {
    const path = join(tempDir, name);
    await writeFile(path, `#!/bin/sh\n${script}\n`);
    await chmod(path, 0o755);
    return path;
  }

  test("missing binary gives empty list", async () => {
    assert.deepEqual(await queryNvidiaGpus({ binary: join(tempDir, "absent-nvidia-smi") }), []);
  });

  test("passes the query and parses output", async () => {
    const argsFile = join(tempDir, "args.txt");
    const binary = await fakeNvidiaSmi(
      "nvidia-smi-ok",
      `printf '%s\\n' "$@" > ${argsFile}; cat ${join(fixturesDir, "nvidia-smi-consumer-2x.csv")}`,
    );

    const gpus = await queryNvidiaGpus({ binary });

    assert.equal(gpus.length, 2);
    const args = (await readFile(argsFile, "utf8")).trim().split("\n");
    assert.deepEqual(args, [`--query-gpu=${NVIDIA_SMI_FIELDS.join(",")}`, "--format=csv,noheader,nounits"]);
  });

  test("no devices exit gives empty list", async () => {
    const binary = await fakeNvidiaSmi("nvidia-smi-none", "echo 'No devices were found'; exit 6");

    assert.deepEqual(await queryNvidiaGpus({ binary }), []);
  });

  test("driver failure raises GpuProbeError", async () => {
    const message = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.";
    const binary = await fakeNvidiaSmi("nvidia-smi-broken", `echo "${message}"; exit 9`);

    await assert.rejects(queryNvidiaGpus({ binary }), (error: unknown) => {
      assert.ok(error instanceof GpuProbeError);
      assert.match(error.message, /exit code 9/);
      assert.match(error.message, /couldn't communicate with the NVIDIA driver/);
      return true;
    });
  });

  test("hung binary times out", async () => {
    const binary = await fakeNvidiaSmi("nvidia-smi-hung", "exec sleep 5");

    await assert.rejects(queryNvidiaGpus({ binary, timeoutMs: 200 }), /timed out after 200 ms/);
  });
});
