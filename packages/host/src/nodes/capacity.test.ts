import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { GpuInfoSchema } from "@kohakuriver/api";

import type { NodeRecord } from "../store/types.js";
import { capacityOf } from "./node-registry.js";

function record(gpuIds: number[]): NodeRecord {
  return {
    hostname: "n1",
    url: "http://127.0.0.1:8001",
    total_cores: 8,
    memory_total_bytes: 16e9,
    status: "online",
    last_heartbeat: null,
    cpu_percent: null,
    memory_percent: null,
    memory_used_bytes: null,
    current_avg_temp: null,
    current_max_temp: null,
    numa_topology: null,
    gpu_info: gpuIds.map((gpuId) => GpuInfoSchema.parse({ gpu_id: gpuId, name: "GPU" })),
    vm_capable: false,
    vfio_gpus: [],
    runner_version: null,
    registered_at: new Date().toISOString(),
  };
}

describe("capacityOf", () => {
  it("lists each GPU once", () => {
    assert.deepEqual(capacityOf(record([0, 0, 1])).gpuIds, [0, 1]);
  });

  it("copies cores and memory", () => {
    const capacity = capacityOf(record([]));
    assert.equal(capacity.totalCores, 8);
    assert.equal(capacity.memoryBytes, 16e9);
  });
});
