import assert from "node:assert/strict";
import { totalmem } from "node:os";
import { describe, test } from "node:test";

import { parseMeminfo, readMemoryUsage } from "./memory.js";

describe("memory probe", () => {
  test("used is total minus available", () => {
    const usage = parseMeminfo("MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    750 kB\n");

    assert.equal(usage.totalBytes, 1000 * 1024);
    assert.equal(usage.availableBytes, 750 * 1024);
    assert.equal(usage.usedBytes, 250 * 1024);
    assert.equal(usage.percent, 25);
  });

  test("old kernels without MemAvailable", () => {
    const usage = parseMeminfo(
      "MemTotal: 3000 kB\nMemFree: 1000 kB\nBuffers: 200 kB\nCached: 800 kB\nSwapCached: 5 kB\n",
    );

    assert.equal(usage.availableBytes, 2000 * 1024);
    assert.equal(usage.percent, 33.3);
  });

  test("missing MemTotal is rejected", () => {
    assert.throws(() => parseMeminfo("MemFree: 1 kB\n"), /MemTotal missing/);
  });

  test("this machine's /proc/meminfo", async () => {
    const usage = await readMemoryUsage();

    assert.ok(usage.totalBytes > 0);
    assert.ok(Math.abs(usage.totalBytes - totalmem()) <= totalmem() * 0.01, "total matches os.totalmem()");
    assert.ok(usage.usedBytes >= 0);
    assert.ok(usage.usedBytes <= usage.totalBytes);
    assert.ok(usage.percent >= 0);
    assert.ok(usage.percent <= 100);
  });
});
