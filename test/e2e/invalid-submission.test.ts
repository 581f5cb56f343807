/**
 * Invalid submissions: every one gets a 4xx whose detail names the field, and none leaves a task row or
 * a container behind.
 */

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import { useCluster, dockerSkip } from "./harness.js";

describe("invalid submissions", { skip: dockerSkip }, () => {
  const { cluster, node: nodeName } = useCluster();
  let node = "";
  before(() => {
    node = nodeName();
  });

  async function post(
    body: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; body: { detail?: string; field?: string } }> {
    const response = await fetch(`${cluster.client.baseUrl}/api/submit`, {
      method: "POST",
      headers: { "content-type": contentType },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { detail?: string; field?: string } };
  }

  const cases: Array<[string, () => unknown, RegExp]> = [
    ["bad target syntax", () => ({ command: "true", targets: [`${node}:x`] }), /^targets: .*NUMA node 'x'/],
    ["target with two '::'", () => ({ command: "true", targets: [`${node}::0::1`] }), /^targets: /],
    ["unknown node", () => ({ command: "true", targets: ["no-such-node"] }), /^targets: unknown node 'no-such-node'/],
    ["negative cores", () => ({ command: "true", required_cores: -1 }), /^required_cores: /],
    [
      "memory 12Q",
      () => ({ command: "true", required_memory_bytes: "12Q" }),
      /^required_memory_bytes: invalid size '12Q'/,
    ],
    [
      "negative memory",
      () => ({ command: "true", required_memory_bytes: -5 }),
      /^required_memory_bytes: must be 0 or more bytes/,
    ],
    [
      "memory as a boolean",
      () => ({ command: "true", required_memory_bytes: true }),
      /^required_memory_bytes: .*expected number or string/,
    ],
    ["empty command", () => ({ command: "   " }), /^command: must not be empty/],
    ["missing command", () => ({}), /^command: /],
    ["cores as a string", () => ({ command: "true", required_cores: "four" }), /^required_cores: /],
    ["arguments not a list", () => ({ command: "true", arguments: "a b" }), /^arguments: /],
    ["env value not a string", () => ({ command: "true", env_vars: { A: 1 } }), /^env_vars\.A: /],
    ["bad env name", () => ({ command: "true", env_vars: { "A-B": "1" } }), /^env_vars\.A-B: /],
    ["targets not a list", () => ({ command: "true", targets: node }), /^targets: /],
    ["unknown task type", () => ({ command: "true", task_type: "batch" }), /^task_type: /],
    [
      "GPU list count differs from targets",
      () => ({ command: "true", targets: [node], required_gpus: [[0], [1]] }),
      /^required_gpus: /,
    ],
    [
      "GPU that the node does not have",
      () => ({ command: "true", targets: [`${node}::7`] }),
      /^required_gpus: GPU 7 requested/,
    ],
    ["NUMA node that does not exist", () => ({ command: "true", targets: [`${node}:63`] }), /^targets: NUMA node 63/],
    [
      "image and environment together",
      () => ({ command: "true", container_name: "a", registry_image: "b" }),
      /^container_name: /,
    ],
    ["bad mount", () => ({ command: "true", additional_mounts: ["relative:/x"] }), /^additional_mounts: /],
    ["cores beyond every node", () => ({ command: "true", required_cores: 100000 }), /^required_cores: /],
    ["body that is not an object", () => [1, 2], /: /],
  ];

  for (const [name, body, detail] of cases) {
    it(`rejects ${name} with a 4xx naming the field`, async () => {
      const before = await cluster.client.listTasks({ limit: 10000 });
      const response = await post(body());
      assert.ok(response.status >= 400, `status ${response.status}`);
      assert.ok(response.status < 500, `status ${response.status}`);
      assert.match(response.body.detail ?? "", detail);
      const afterward = await cluster.client.listTasks({ limit: 10000 });
      assert.equal(afterward.length, before.length, "a task row was stored");
    });
  }

  it("rejects malformed JSON with a 400", async () => {
    const response = await post("{not json");
    assert.equal(response.status, 400);
    assert.match(response.body.detail ?? "", /JSON/);
  });

  it("stores nothing when one target of a batch is invalid", async () => {
    const before = await cluster.client.listTasks({ limit: 10000 });
    const response = await post({ command: "true", targets: [node, "ghost-node"] });
    assert.equal(response.status, 400);
    assert.equal((await cluster.client.listTasks({ limit: 10000 })).length, before.length);
  });

  it("created no container for any rejected submission", async () => {
    assert.deepEqual(await cluster.containers(), []);
  });

  it("the CLI rejects memory 12Q before sending anything", async () => {
    const result = await cluster.cli(["task", "submit", "-m", "12Q", "--", "true"]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /12Q/);
    assert.match(result.stderr, /--memory/);
  });

  it("the CLI rejects an empty command", async () => {
    const result = await cluster.cli(["task", "submit", "-t", node]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /command/i);
  });
});
