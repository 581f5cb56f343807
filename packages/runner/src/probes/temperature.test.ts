import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { parseMillidegrees, readTemperatureReadings, readTemperatures } from "./temperature.js";

async function writeFiles(base: string, files: Record<string, string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const path = join(base, relative);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, `${content}\n`);
  }
}

describe("temperature probe", () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kr-temperature-"));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("thermal zones and hwmon combined", async () => {
    const base = join(root, "combined");
    await writeFiles(base, {
      "thermal/thermal_zone0/type": "x86_pkg_temp",
      "thermal/thermal_zone0/temp": "50000",
      "thermal/cooling_device0/type": "Processor",
      "hwmon/hwmon0/name": "coretemp",
      "hwmon/hwmon0/temp1_input": "40000",
      "hwmon/hwmon0/temp2_input": "61500",
      "hwmon/hwmon0/temp1_max": "100000",
    });

    const summary = await readTemperatures({ thermal: join(base, "thermal"), hwmon: join(base, "hwmon") });

    assert.deepEqual(summary, { averageCelsius: 50.5, maxCelsius: 61.5 });
  });

  test("hwmon copy of a thermal zone is skipped", async () => {
    const base = join(root, "duplicate");
    await writeFiles(base, {
      "thermal/thermal_zone0/type": "acpi-tz",
      "thermal/thermal_zone0/temp": "30000",
      "hwmon/hwmon0/name": "acpi_tz",
      "hwmon/hwmon0/temp1_input": "30000",
      "hwmon/hwmon1/name": "nvme",
      "hwmon/hwmon1/temp1_input": "36000",
    });

    const readings = await readTemperatureReadings({ thermal: join(base, "thermal"), hwmon: join(base, "hwmon") });

    assert.deepEqual(readings.sort(), [30, 36]);
  });

  test("implausible readings are dropped", () => {
    assert.equal(parseMillidegrees("-128000"), null);
    assert.equal(parseMillidegrees("255000"), null);
    assert.equal(parseMillidegrees("not a number"), null);
    assert.equal(parseMillidegrees(null), null);
    assert.equal(parseMillidegrees("45250"), 45.25);
    assert.equal(parseMillidegrees("-5000"), -5);
  });

  test("no sensors gives null", async () => {
    const summary = await readTemperatures({
      thermal: join(root, "absent-thermal"),
      hwmon: join(root, "absent-hwmon"),
    });

    assert.equal(summary, null);
  });

  test("this machine's sensors", async () => {
    const summary = await readTemperatures();
    if (summary === null) {
      return;
    }

    assert.ok(summary.maxCelsius >= summary.averageCelsius - 0.05);
    assert.ok(summary.averageCelsius >= -40);
    assert.ok(summary.maxCelsius <= 150);
  });
});
