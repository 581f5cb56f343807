/** Temperatures from the kernel's thermal zones and hwmon sensors. */

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface TemperatureRoots {
  /** Default /sys/class/thermal. */
  thermal?: string;
  /** Default /sys/class/hwmon. */
  hwmon?: string;
}

export interface TemperatureSummary {
  averageCelsius: number;
  maxCelsius: number;
}

/** Readings outside this range are sensor errors (unconnected inputs often report -128 or 255 °C). */
const MIN_PLAUSIBLE_CELSIUS = -40;
const MAX_PLAUSIBLE_CELSIUS = 150;

async function listMatching(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.filter((entry) => pattern.test(entry)).sort();
}

async function readTrimmed(path: string): Promise<string | null> {
  return readFile(path, "utf8").then(
    (text) => text.trim(),
    () => null,
  );
}

/** Linux names the hwmon device of a thermal zone after the zone type, with "-" replaced by "_". */
function hwmonNameOf(zoneType: string): string {
  return zoneType.replace(/-/g, "_");
}

/** Converts a sysfs reading in millidegrees Celsius; returns null for unreadable or implausible values. */
export function parseMillidegrees(text: string | null): number | null {
  if (text === null || !/^-?\d+$/.test(text)) {
    return null;
  }
  const celsius = Number(text) / 1000;
  return celsius >= MIN_PLAUSIBLE_CELSIUS && celsius <= MAX_PLAUSIBLE_CELSIUS ? celsius : null;
}

/**
 * Reads every thermal zone and every hwmon temp*_input. The kernel also registers most thermal zones as a
 * hwmon device named after the zone type, so such hwmon devices are skipped to avoid counting a sensor twice.
 */
export async function readTemperatureReadings(roots: TemperatureRoots = {}): Promise<number[]> {
  const thermalRoot = roots.thermal ?? "/sys/class/thermal";
  const hwmonRoot = roots.hwmon ?? "/sys/class/hwmon";
  const readings: number[] = [];
  const zoneTypes = new Set<string>();

  for (const zone of await listMatching(thermalRoot, /^thermal_zone\d+$/)) {
    const zoneType = await readTrimmed(join(thermalRoot, zone, "type"));
    if (zoneType !== null) {
      zoneTypes.add(hwmonNameOf(zoneType));
    }
    const celsius = parseMillidegrees(await readTrimmed(join(thermalRoot, zone, "temp")));
    if (celsius !== null) {
      readings.push(celsius);
    }
  }

  for (const device of await listMatching(hwmonRoot, /^hwmon\d+$/)) {
    const deviceDir = join(hwmonRoot, device);
    const deviceName = await readTrimmed(join(deviceDir, "name"));
    if (deviceName !== null && zoneTypes.has(hwmonNameOf(deviceName))) {
      continue;
    }
    for (const input of await listMatching(deviceDir, /^temp\d+_input$/)) {
      const celsius = parseMillidegrees(await readTrimmed(join(deviceDir, input)));
      if (celsius !== null) {
        readings.push(celsius);
      }
    }
  }
  return readings;
}

/** Returns the average (one decimal) and maximum of all readings, or null when the machine exposes none. */
export async function readTemperatures(roots: TemperatureRoots = {}): Promise<TemperatureSummary | null> {
  const readings = await readTemperatureReadings(roots);
  if (readings.length === 0) {
    return null;
  }
  const sum = readings.reduce((total, value) => total + value, 0);
  return {
    averageCelsius: Math.round((sum / readings.length) * 10) / 10,
    maxCelsius: Math.max(...readings),
  };
}
