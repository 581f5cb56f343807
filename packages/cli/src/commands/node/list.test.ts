import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { NodeResponse } from "@kohakuriver/api";
import picocolors from "picocolors";

import { NODE_LIST_HEAD, nodeListRow } from "./list.js";

const node = {
  hostname: "gpu1",
  status: "online",
  total_cores: 16,
  cores_in_use: 4,
  memory_in_use_bytes: 8_000_000_000,
  memory_used_bytes: 30_000_000_000,
  memory_total_bytes: 64_000_000_000,
  memory_percent: 46.9,
  cpu_percent: 12.5,
  gpus_in_use: [0],
  gpu_info: [{ gpu_id: 0 }, { gpu_id: 1 }],
  last_heartbeat: "2026-12-04T10:00:00.000Z",
} as unknown as NodeResponse;

describe("nodeListRow", () => {
  it("shows reserved resources beside measured use", () => {
    const row = nodeListRow(node, picocolors.createColors(false), Date.parse("2026-12-04T10:00:03.000Z"));
    const cell = (title: string): string | undefined => row[NODE_LIST_HEAD.indexOf(title)];
    assert.equal(cell("CORES RESERVED"), "4 / 16");
    assert.equal(cell("MEMORY RESERVED"), "8.0 GB / 64.0 GB");
    assert.equal(cell("GPUS RESERVED"), "1 / 2");
    assert.equal(cell("CPU USED"), "12.5%");
    assert.equal(cell("MEMORY USED"), "46.9%");
    assert.equal(cell("LAST HEARTBEAT"), "3s ago");
  });
});
