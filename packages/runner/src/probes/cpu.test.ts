import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { countStatCpus, CpuSampler, parseProcStat, readLogicalCoreCount } from "./cpu.js";

function statText(user: number, idle: number, iowait = 0, guest = 0): string {
  return [
    `cpu  ${user} 0 0 ${idle} ${iowait} 0 0 0 ${guest} 0`,
    `cpu0 ${user / 2} 0 0 ${idle / 2} 0 0 0 0 0 0`,
    `cpu1 ${user / 2} 0 0 ${idle / 2} 0 0 0 0 0 0`,
    "intr 12345 0 0",
    "ctxt 999",
    "",
  ].join("\n");
}

describe("cpu probe", () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kr-cpu-"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("parseProcStat counts iowait as idle", () => {
    const times = parseProcStat("cpu  10 20 30 400 50 6 7 8 100 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n");

    assert.equal(times.total, 10 + 20 + 30 + 400 + 50 + 6 + 7 + 8);
    assert.equal(times.busy, 10 + 20 + 30 + 6 + 7 + 8);
  });

  test("parseProcStat rejects text without cpu line", () => {
    assert.throws(() => parseProcStat("intr 1\n"), /no aggregate "cpu" line/);
  });

  test("sampler measures the delta", async () => {
    const path = join(dir, "stat");
    const sampler = new CpuSampler(path);

    await writeFile(path, statText(100, 300));
    assert.equal(await sampler.sample(), 25);
    await writeFile(path, statText(175, 325));
    assert.equal(await sampler.sample(), 75);
    assert.equal(await sampler.sample(), 0);
  });

  test("sampler clamps counter resets", async () => {
    const path = join(dir, "stat-reset");
    const sampler = new CpuSampler(path);

    await writeFile(path, statText(1000, 1000));
    await sampler.sample();
    await writeFile(path, statText(10, 5000));

    const percent = await sampler.sample();
    assert.ok(percent >= 0, `percent ${percent}`);
    assert.ok(percent <= 100, `percent ${percent}`);
  });

  test("logical cores from stat lines", async () => {
    const path = join(dir, "stat-cores");
    await writeFile(path, statText(1, 1));

    assert.equal(countStatCpus(statText(1, 1)), 2);
    assert.equal(await readLogicalCoreCount(path), 2);
    assert.equal(await readLogicalCoreCount(join(dir, "absent")), Math.max(1, cpus().length));
  });

  test("this machine's /proc/stat", async () => {
    const sampler = new CpuSampler();
    await sampler.sample();
    const end = Date.now() + 50;
    while (Date.now() < end) {
      // Keep one CPU busy so the second sample has ticks to measure.
    }

    const percent = await sampler.sample();
    const cores = await readLogicalCoreCount();

    assert.ok(percent >= 0, `percent ${percent}`);
    assert.ok(percent <= 100, `percent ${percent}`);
    assert.ok(cores >= 1, `cores ${cores}`);
    assert.ok(cores <= 65536, `cores ${cores}`);
  });
});
