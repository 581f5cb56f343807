/** NVIDIA GPU inventory and live statistics from `nvidia-smi --query-gpu`. */

import { execFile } from "node:child_process";

import type { GpuInfo } from "@kohakuriver/api";

/** The query fields, in the column order parseNvidiaSmiCsv expects. */
export const NVIDIA_SMI_FIELDS = [
  "index",
  "name",
  "driver_version",
  "pci.bus_id",
  "utilization.gpu",
  "clocks.gr",
  "utilization.memory",
  "clocks.mem",
  "memory.total",
  "memory.used",
  "memory.free",
  "temperature.gpu",
  "fan.speed",
  "power.draw",
  "power.limit",
] as const;

/** Columns after the name; the name is the only free-text column, so a comma in it can be recovered. */
const COLUMNS_AFTER_NAME = NVIDIA_SMI_FIELDS.length - 2;

export interface GpuQueryOptions {
  /** The nvidia-smi executable. Default "nvidia-smi", looked up in PATH. */
  binary?: string;
  /** Default 10 000 ms; a hung driver can stall nvidia-smi for much longer. */
  timeoutMs?: number;
}

/** nvidia-smi failed for another reason than being absent. */
export class GpuProbeError extends Error {
  override name = "GpuProbeError";
}

/** Parses a number, returning -1 for "[N/A]", "[Not Supported]", "[Unknown Error]" and other non-numbers. */
function numberOrUnknown(text: string | undefined): number {
  const trimmed = text?.trim() ?? "";
  if (!/^-?\d+(\.\d+)?$/.test(trimmed)) {
    return -1;
  }
  return Number(trimmed);
}

function wattsToMilliwatts(text: string | undefined): number {
  const watts = numberOrUnknown(text);
  return watts < 0 ? -1 : Math.round(watts * 1000);
}

/**
 * Parses the output of `nvidia-smi --query-gpu=<NVIDIA_SMI_FIELDS> --format=csv,noheader,nounits`.
 * Lines that are not GPU rows (such as "No devices were found") are skipped.
 */
export function parseNvidiaSmiCsv(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];

  for (const line of text.split(/\r?\n/)) {
    const fields = line.split(",").map((field) => field.trim());
    if (fields.length < NVIDIA_SMI_FIELDS.length || !/^\d+$/.test(fields[0] ?? "")) {
      continue;
    }
    const nameEnd = fields.length - COLUMNS_AFTER_NAME;
    const rest = fields.slice(nameEnd);
    gpus.push({
      gpu_id: Number(fields[0]),
      name: fields.slice(1, nameEnd).join(", "),
      driver_version: rest[0] ?? "",
      pci_bus_id: rest[1] ?? "",
      gpu_utilization: numberOrUnknown(rest[2]),
      graphics_clock_mhz: numberOrUnknown(rest[3]),
      mem_utilization: numberOrUnknown(rest[4]),
      mem_clock_mhz: numberOrUnknown(rest[5]),
      memory_total_mib: numberOrUnknown(rest[6]),
      memory_used_mib: numberOrUnknown(rest[7]),
      memory_free_mib: numberOrUnknown(rest[8]),
      temperature: numberOrUnknown(rest[9]),
      fan_speed: numberOrUnknown(rest[10]),
      power_usage_mw: wattsToMilliwatts(rest[11]),
      power_limit_mw: wattsToMilliwatts(rest[12]),
    });
  }
  return gpus;
}

/**
 * Runs nvidia-smi and returns one entry per GPU. Returns [] when nvidia-smi is not installed or finds no
 * device. Rejects with GpuProbeError when it fails otherwise (driver not loaded, timeout).
 */
export function queryNvidiaGpus(options: GpuQueryOptions = {}): Promise<GpuInfo[]> {
  const binary = options.binary ?? "nvidia-smi";
  const args = [`--query-gpu=${NVIDIA_SMI_FIELDS.join(",")}`, "--format=csv,noheader,nounits"];

  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: options.timeoutMs ?? 10_000, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(parseNvidiaSmiCsv(stdout));
        return;
      }
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        resolve([]);
        return;
      }
      if (/No devices were found/i.test(stdout + stderr)) {
        resolve([]);
        return;
      }
      const output = (stderr.trim() || stdout.trim()).slice(0, 500);
      const reason = error.killed
        ? `timed out after ${options.timeoutMs ?? 10_000} ms`
        : `exit code ${String(error.code)}`;
      reject(new GpuProbeError(`${binary} failed: ${reason}${output === "" ? "" : `: ${output}`}`, { cause: error }));
    });
  });
}
