import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ResourceLedger, type NodeCapacity, type ResourceRequest } from "./ledger.js";
import { placeQueuedTasks, type QueuedTask } from "./placement.js";

function node(hostname: string, cores: number, extra: Partial<NodeCapacity> = {}): NodeCapacity {
  return {
    hostname,
    url: `http://${hostname}`,
    totalCores: cores,
    memoryBytes: 16e9,
    gpuIds: [],
    numaTopology: null,
    ...extra,
  };
}

function ledgerWith(...nodes: NodeCapacity[]): ResourceLedger {
  const ledger = new ResourceLedger();
  for (const capacity of nodes) {
    ledger.upsertNode(capacity);
    ledger.setSchedulable(capacity.hostname, true);
  }
  return ledger;
}

function task(taskId: string, request: Partial<ResourceRequest> = {}, targetNode: string | null = null): QueuedTask {
  return {
    taskId,
    targetNode,
    request: { cores: 1, memoryBytes: null, gpuIds: [], gpuCount: 0, numaNodeId: null, ...request },
  };
}

describe("placeQueuedTasks", () => {
  it("places on the node with the most free cores", () => {
    const ledger = ledgerWith(node("a", 4), node("b", 8));
    const placements = placeQueuedTasks([task("1")], ledger);
    assert.deepEqual(
      placements.map((p) => p.hostname),
      ["b"],
    );
    assert.equal(ledger.getNode("b")?.usedCores, 1);
  });

  it("spreads tasks as free cores change", () => {
    const ledger = ledgerWith(node("a", 2), node("b", 2));
    const placements = placeQueuedTasks([task("1"), task("2"), task("3"), task("4"), task("5")], ledger);
    assert.deepEqual(placements.map((p) => p.hostname).sort(), ["a", "a", "b", "b"]);
    assert.equal(
      placements.some((p) => p.taskId === "5"),
      false,
    );
  });

  it("never lets a younger task overtake", () => {
    const ledger = ledgerWith(node("a", 4));
    ledger.allocate({ taskId: "busy", hostname: "a", cores: 2, memoryBytes: 0, gpuIds: [] });
    const placements = placeQueuedTasks([task("big", { cores: 4 }), task("small", { cores: 1 })], ledger);
    assert.deepEqual(placements, []);
  });

  it("lets younger tasks use nodes the oldest could never use", () => {
    const ledger = ledgerWith(node("small", 2), node("large", 16));
    ledger.allocate({ taskId: "busy", hostname: "large", cores: 16, memoryBytes: 0, gpuIds: [] });
    const placements = placeQueuedTasks([task("big", { cores: 8 }), task("tiny", { cores: 1 })], ledger);
    assert.deepEqual(
      placements.map((p) => [p.taskId, p.hostname]),
      [["tiny", "small"]],
    );
  });

  it("honours the target node", () => {
    const ledger = ledgerWith(node("a", 2), node("b", 8));
    const placements = placeQueuedTasks([task("1", {}, "a")], ledger);
    assert.equal(placements[0]?.hostname, "a");
  });

  it("skips nodes that are not schedulable", () => {
    const ledger = ledgerWith(node("a", 2), node("b", 8));
    ledger.setSchedulable("b", false);
    assert.equal(placeQueuedTasks([task("1")], ledger)[0]?.hostname, "a");
    assert.deepEqual(placeQueuedTasks([task("2", {}, "b")], ledger), []);
  });

  it("picks free GPUs for a GPU count and never shares them", () => {
    const ledger = ledgerWith(node("g", 8, { gpuIds: [0, 1, 2, 3] }));
    const placements = placeQueuedTasks(
      [task("1", { gpuCount: 2 }), task("2", { gpuCount: 2 }), task("3", { gpuCount: 1 })],
      ledger,
    );
    assert.deepEqual(
      placements.map((p) => p.gpuIds),
      [
        [0, 1],
        [2, 3],
      ],
    );
  });

  it("waits for named GPUs that are busy", () => {
    const ledger = ledgerWith(node("g", 8, { gpuIds: [0, 1] }));
    ledger.allocate({ taskId: "busy", hostname: "g", cores: 1, memoryBytes: 0, gpuIds: [1] });
    const placements = placeQueuedTasks([task("1", { gpuIds: [1] }, "g"), task("2", { gpuIds: [0] }, "g")], ledger);
    assert.deepEqual(placements, []);
  });

  it("counts memory", () => {
    const ledger = ledgerWith(node("a", 8, { memoryBytes: 1e9 }));
    const placements = placeQueuedTasks([task("1", { memoryBytes: 6e8 }), task("2", { memoryBytes: 6e8 })], ledger);
    assert.deepEqual(
      placements.map((p) => p.taskId),
      ["1"],
    );
  });

  it("treats zero cores as no limit and no accounting", () => {
    const ledger = ledgerWith(node("a", 1));
    const placements = placeQueuedTasks(
      [task("1", { cores: 0 }), task("2", { cores: 0 }), task("3", { cores: 1 })],
      ledger,
    );
    assert.equal(placements.length, 3);
  });

  it("requires the NUMA node to exist", () => {
    const numa = { "0": { cores: [0, 1], memory_bytes: null } };
    const ledger = ledgerWith(node("a", 2), node("b", 2, { numaTopology: numa }));
    const placements = placeQueuedTasks([task("1", { numaNodeId: 0 })], ledger);
    assert.equal(placements[0]?.hostname, "b");
  });

  it("places again after resources are released", () => {
    const ledger = ledgerWith(node("a", 2));
    const first = placeQueuedTasks([task("1", { cores: 2 }), task("2", { cores: 2 })], ledger);
    assert.deepEqual(
      first.map((p) => p.taskId),
      ["1"],
    );
    ledger.release("1");
    const second = placeQueuedTasks([task("2", { cores: 2 })], ledger);
    assert.deepEqual(
      second.map((p) => p.taskId),
      ["2"],
    );
  });
});

describe("ResourceLedger.neverFitsReason", () => {
  const ledger = new ResourceLedger();
  const capacity = node("n", 4, { memoryBytes: 8e9, gpuIds: [0, 1] });

  it("accepts what fits once idle", () => {
    assert.equal(
      ledger.neverFitsReason(capacity, task("1", { cores: 4, memoryBytes: 8e9, gpuCount: 2 }).request),
      null,
    );
  });

  const cases: Array<[string, Partial<ResourceRequest>, string]> = [
    ["cores", { cores: 5 }, "required_cores"],
    ["memory", { memoryBytes: 9e9 }, "required_memory_bytes"],
    ["missing GPU index", { gpuIds: [2] }, "required_gpus"],
    ["GPU count", { gpuCount: 3 }, "required_gpu_count"],
    ["NUMA node", { numaNodeId: 0 }, "targets"],
  ];
  for (const [name, request, field] of cases) {
    it(`names the field for too many ${name}`, () => {
      assert.equal(ledger.neverFitsReason(capacity, task("1", request).request)?.field, field);
    });
  }
});
