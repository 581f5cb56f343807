import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { InvalidInputError } from "./errors.js";
import { formatTarget, parseTarget } from "./target.js";

describe("parseTarget", () => {
  it("parses a bare host name", () => {
    assert.deepEqual(parseTarget("node1"), { hostname: "node1", numaNodeId: null, gpuIds: null });
  });

  it("parses a NUMA node", () => {
    assert.deepEqual(parseTarget("node1:1"), { hostname: "node1", numaNodeId: 1, gpuIds: null });
  });

  it("parses GPUs without NUMA", () => {
    assert.deepEqual(parseTarget("gpu-box.lab::0,3"), { hostname: "gpu-box.lab", numaNodeId: null, gpuIds: [0, 3] });
  });

  it("parses NUMA and GPUs together", () => {
    assert.deepEqual(parseTarget("node1:0::2"), { hostname: "node1", numaNodeId: 0, gpuIds: [2] });
  });

  it("drops repeated GPU indices", () => {
    assert.deepEqual(parseTarget("node1::1,1,2")?.gpuIds, [1, 2]);
  });

  const invalid: Array<[string, RegExp]> = [
    ["", /invalid host name/],
    [":0", /invalid host name/],
    ["node1:-1", /invalid NUMA node '-1'/],
    ["node1:x", /invalid NUMA node 'x'/],
    ["node1:0:1", /invalid target/],
    ["node1::", /invalid GPU list ''/],
    ["node1::a,b", /invalid GPU list 'a,b'/],
    ["node1::0::1", /'::' may appear only once/],
    ["no de", /invalid host name/],
    ["node1::1.5", /invalid GPU list/],
  ];
  for (const [text, message] of invalid) {
    it(`rejects '${text}'`, () => {
      assert.throws(
        () => parseTarget(text, "targets"),
        (error: unknown) =>
          error instanceof InvalidInputError && message.test(error.message) && error.field === "targets",
      );
    });
  }

  it("names the field it was given", () => {
    assert.throws(() => parseTarget("bad:x", "--target"), { message: /^--target: / });
  });

  it("formats back to the same text", () => {
    for (const text of ["node1", "node1:0", "node1::0,1", "node1:1::2"]) {
      assert.equal(formatTarget(parseTarget(text)), text);
    }
  });
});
