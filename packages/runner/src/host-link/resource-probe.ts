/**
 * Machine facts the runner reports, gathered from the probes: cores, memory, temperatures, NUMA
 * topology and GPUs. A failing GPU probe is logged once per distinct error and reported as no GPUs.
 */

import type { GpuInfo, NumaTopology } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";

import {
  CpuSampler,
  queryNvidiaGpus,
  readLogicalCoreCount,
  readMemoryUsage,
  readNumaTopology,
  readTemperatures,
  type MemoryUsage,
  type TemperatureSummary,
} from "../probes/index.js";

export class ResourceProbe {
  private readonly cpu = new CpuSampler();
  private lastGpuError = "";

  constructor(private readonly options: { nvidiaSmiPath: string; logger: Logger }) {}

  coreCount(): Promise<number> {
    return readLogicalCoreCount();
  }

  cpuPercent(): Promise<number> {
    return this.cpu.sample().catch(() => 0);
  }

  memory(): Promise<MemoryUsage | null> {
    return readMemoryUsage().catch(() => null);
  }

  temperature(): Promise<TemperatureSummary | null> {
    return readTemperatures().catch(() => null);
  }

  numaTopology(): Promise<NumaTopology | null> {
    return readNumaTopology().catch(() => null);
  }

  async gpus(): Promise<GpuInfo[]> {
    try {
      const gpus = await queryNvidiaGpus({ binary: this.options.nvidiaSmiPath });
      this.lastGpuError = "";
      return gpus;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastGpuError)
        this.options.logger.warn({ reason: message }, "GPU probe failed; reporting no GPUs");
      this.lastGpuError = message;
      return [];
    }
  }
}
