import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { parseCpuList, formatCpuList } from "./cpu-list.js";
import { cpusetForNumaNode } from "./cpuset.js";
import { parseNodeMemTotal, readNumaTopology } from "./numa.js";

describe("cpulist", () => {
  test("parses ranges and singles", () => {
    assert.deepEqual(parseCpuList("0-3,8-11\n"), [0, 1, 2, 3, 8, 9, 10, 11]);
    assert.deepEqual(parseCpuList("5"), [5]);
    assert.deepEqual(parseCpuList("3,1,2-2,1"), [1, 2, 3]);
    assert.deepEqual(parseCpuList(""), []);
    assert.deepEqual(parseCpuList("\n"), []);
  });

  test("rejects malformed lists", () => {
    assert.throws(() => parseCpuList("0-"), /invalid cpulist "0-"/);
    assert.throws(() => parseCpuList("a,b"), /invalid cpulist/);
    assert.throws(() => parseCpuList("4-2"), /reversed/);
  });

  test("formats compact ranges", () => {
    assert.equal(formatCpuList([0, 1, 2, 3, 8]), "0-3,8");
    assert.equal(formatCpuList([11, 10, 9, 8, 0, 1, 2, 3]), "0-3,8-11");
    assert.equal(formatCpuList([1, 3, 5]), "1,3,5");
    assert.equal(formatCpuList([2, 2, 3]), "2-3");
    assert.equal(formatCpuList([]), "");
  });

  test("format inverts parse", () => {
    for (const text of ["0-63", "0-15,32-47", "1,3,5-7,100"]) {
      assert.equal(formatCpuList(parseCpuList(text)), text);
    }
  });
});

describe("readNumaTopology", () => {
  let root: string;

  async function writeNode(base: string, id: number, cpulist: string | null, memTotalKb: number | null): Promise<void> {
    const dir = join(base, `node${id}`);
    await mkdir(dir, { recursive: true });
    if (cpulist !== null) {
      await writeFile(join(dir, "cpulist"), `${cpulist}\n`);
    }
    if (memTotalKb !== null) {
      await writeFile(
        join(dir, "meminfo"),
        `Node ${id} MemTotal:       ${memTotalKb} kB\nNode ${id} MemFree:        1000 kB\n`,
      );
    }
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kr-numa-"));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("two sockets with memory", async () => {
    const base = join(root, "two");
    await writeNode(base, 0, "0-3,8-11", 65_000_000);
    await writeNode(base, 1, "4-7,12-15", 66_000_000);
    await writeFile(join(base, "online"), "0-1\n");
    await mkdir(join(base, "power"));

    const topology = await readNumaTopology(base);

    assert.deepEqual(topology, {
      "0": { cores: [0, 1, 2, 3, 8, 9, 10, 11], memory_bytes: 65_000_000 * 1024 },
      "1": { cores: [4, 5, 6, 7, 12, 13, 14, 15], memory_bytes: 66_000_000 * 1024 },
    });
  });

  test("node order is numeric", async () => {
    const base = join(root, "order");
    for (const id of [10, 2, 1]) {
      await writeNode(base, id, `${id}`, 1);
    }

    const topology = await readNumaTopology(base);

    assert.deepEqual(Object.keys(topology ?? {}), ["1", "2", "10"]);
  });

  test("memory-only node and missing meminfo", async () => {
    const base = join(root, "cxl");
    await writeNode(base, 0, "0-1", null);
    await writeNode(base, 1, "", 1024);

    const topology = await readNumaTopology(base);

    assert.deepEqual(topology, {
      "0": { cores: [0, 1], memory_bytes: null },
      "1": { cores: [], memory_bytes: 1024 * 1024 },
    });
  });

  test("missing or empty root gives null", async () => {
    const empty = join(root, "empty");
    await mkdir(empty);

    assert.equal(await readNumaTopology(join(root, "absent")), null);
    assert.equal(await readNumaTopology(empty), null);
  });

  test("parseNodeMemTotal ignores other lines", () => {
    assert.equal(parseNodeMemTotal("Node 3 MemFree: 5 kB\nNode 3 MemTotal:   7 kB\n"), 7 * 1024);
    assert.equal(parseNodeMemTotal("garbage"), null);
  });

  test("this machine's sysfs", async () => {
    const topology = await readNumaTopology();
    if (topology === null) {
      return;
    }

    const ids = Object.keys(topology);
    assert.ok(ids.length >= 1);
    const allCores = ids.flatMap((id) => topology[id]?.cores ?? []);
    assert.ok(allCores.length >= 1, "at least one core belongs to a node");
    assert.equal(new Set(allCores).size, allCores.length, "no core is in two nodes");
    for (const id of ids) {
      const memory = topology[id]?.memory_bytes;
      assert.ok(memory === null || memory === undefined || memory > 0);
    }
  });
});

describe("cpusetForNumaNode", () => {
  const topology = {
    "0": { cores: [0, 1, 2, 3, 8, 9, 10, 11], memory_bytes: 1 },
    "1": { cores: [4, 5, 6, 7, 12, 13, 14, 15], memory_bytes: 1 },
    "2": { cores: [], memory_bytes: 1 },
  };

  test("compresses the node's cores", () => {
    assert.deepEqual(cpusetForNumaNode(topology, 0), { cpus: "0-3,8-11", mems: "0" });
    assert.deepEqual(cpusetForNumaNode(topology, "1"), { cpus: "4-7,12-15", mems: "1" });
  });

  test("unknown or CPU-less node gives null", () => {
    assert.equal(cpusetForNumaNode(topology, 5), null);
    assert.equal(cpusetForNumaNode(topology, 2), null);
    assert.equal(cpusetForNumaNode(null, 0), null);
  });
});
