import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { InvalidInputError, TaskSubmissionSchema, type TaskSubmission } from "@kohakuriver/api";

import { resolveHostConfig } from "../config.js";
import { ResourceLedger } from "../scheduler/ledger.js";
import { SnowflakeGenerator } from "../scheduler/snowflake.js";
import { buildTaskRecords } from "./submission.js";

const config = resolveHostConfig({ SHARED_DIR: "/srv/share" });

function ledgerWithNodes(): ResourceLedger {
  const ledger = new ResourceLedger();
  ledger.upsertNode({ hostname: "cpu1", url: "", totalCores: 8, memoryBytes: 32e9, gpuIds: [], numaTopology: null });
  ledger.upsertNode({
    hostname: "gpu1",
    url: "",
    totalCores: 32,
    memoryBytes: 256e9,
    gpuIds: [0, 1, 2, 3],
    numaTopology: { "0": { cores: [0, 1], memory_bytes: null }, "1": { cores: [2, 3], memory_bytes: null } },
  });
  return ledger;
}

function build(body: TaskSubmission, ledger = ledgerWithNodes()) {
  const ids = new SnowflakeGenerator();
  return buildTaskRecords(TaskSubmissionSchema.parse(body), {
    config,
    ledger,
    nextTaskId: () => ids.next(),
    now: () => new Date(),
  });
}

function rejects(body: TaskSubmission, field: string, detail: RegExp): void {
  assert.throws(
    () => build(body),
    (error: unknown) => error instanceof InvalidInputError && error.field === field && detail.test(error.message),
  );
}

describe("buildTaskRecords", () => {
  it("builds one pending task with the default environment and log paths", () => {
    const [task] = build({ command: "python train.py" });
    assert.equal(task?.status, "pending");
    assert.equal(task?.docker_image_name, "kohakuriver/kohakuriver-base:base");
    assert.equal(task?.stdout_path, `/srv/share/logs/${task?.task_id}/stdout.log`);
    assert.equal(task?.batch_id, task?.task_id);
    assert.equal(task?.target_node, null);
  });

  it("makes one task per target", () => {
    const tasks = build({ command: "nvidia-smi", targets: ["gpu1::0,1", "gpu1:1::2", "cpu1"] });
    assert.equal(tasks.length, 3);
    assert.deepEqual(
      tasks.map((task) => task.required_gpus),
      [[0, 1], [2], []],
    );
    assert.deepEqual(
      tasks.map((task) => task.target_numa_node_id),
      [null, 1, null],
    );
    assert.ok(tasks.every((task) => task.batch_id === tasks[0]?.task_id));
  });

  it("takes GPU lists from required_gpus, one per target", () => {
    const tasks = build({ command: "x", targets: ["gpu1", "gpu1"], required_gpus: [[3], []] });
    assert.deepEqual(
      tasks.map((task) => task.required_gpus),
      [[3], []],
    );
  });

  it("uses a registry image instead of an environment", () => {
    const [task] = build({ command: "x", registry_image: "ubuntu:22.04" });
    assert.equal(task?.docker_image_name, "ubuntu:22.04");
    assert.equal(task?.container_name, null);
  });

  it("accepts memory as a size string", () => {
    assert.equal(build({ command: "x", required_memory_bytes: "4G" })[0]?.required_memory_bytes, 4e9);
  });

  it("lets a task wait when no node has registered yet", () => {
    assert.equal(build({ command: "x", required_cores: 512 }, new ResourceLedger()).length, 1);
  });

  it("rejects an empty command", () => rejects({ command: " " }, "command", /must not be empty/));
  it("rejects an unknown target node", () =>
    rejects({ command: "x", targets: ["ghost"] }, "targets", /unknown node 'ghost' \(registered nodes: cpu1, gpu1\)/));
  it("rejects more cores than any node has", () =>
    rejects(
      { command: "x", required_cores: 64 },
      "required_cores",
      /largest node is gpu1 with 32 cores, 256.0 GB memory and 4 GPUs/,
    ));
  it("rejects more memory than the target has", () =>
    rejects(
      { command: "x", targets: ["cpu1"], required_memory_bytes: "64G" },
      "required_memory_bytes",
      /64.0 GB of memory requested but node cpu1 has 32.0 GB/,
    ));
  it("rejects a GPU the target lacks", () =>
    rejects({ command: "x", targets: ["cpu1::0"] }, "required_gpus", /node cpu1 has no GPUs/));
  it("rejects memory below Docker's minimum", () =>
    rejects({ command: "x", required_memory_bytes: "6M" }, "required_memory_bytes", /minimum memory limit of 6 MiB/));
  it("accepts memory zero as no limit", () => {
    assert.equal(build({ command: "x", required_memory_bytes: 0 })[0]?.required_memory_bytes, 0);
  });
  it("rejects a missing NUMA node", () =>
    rejects({ command: "x", targets: ["gpu1:5"] }, "targets", /has only NUMA nodes 0, 1/));
  it("rejects GPU lists without targets", () =>
    rejects({ command: "x", required_gpus: [[0]] }, "required_gpus", /need a target/));
  it("rejects a GPU count with GPU indices", () =>
    rejects({ command: "x", targets: ["gpu1::0"], required_gpu_count: 1 }, "required_gpu_count", /not both/));
  it("rejects a GPU count no node has", () =>
    rejects({ command: "x", required_gpu_count: 8 }, "required_gpu_count", /no node can ever hold/));
  it("rejects 'NULL' without a registry image", () =>
    rejects({ command: "x", container_name: "NULL" }, "container_name", /registry_image/));
  it("rejects upper case in a repository", () =>
    rejects({ command: "x", registry_image: "UPPER/Case:tag" }, "registry_image", /lower case/));
  it("accepts upper case in a tag", () => {
    const [task] = build({ command: "x", registry_image: "localhost:5000/team/image:V1.2-RC" });
    assert.equal(task?.docker_image_name, "localhost:5000/team/image:V1.2-RC");
  });
  it("rejects a VPS through submit", () =>
    rejects({ command: "ssh-ed25519 AAAA", task_type: "vps" }, "task_type", /vps\/create/));
  it("rejects a malformed mount", () =>
    rejects({ command: "x", additional_mounts: ["/a"] }, "additional_mounts", /host\/path/));
  it("rejects unknown mount options", () =>
    rejects({ command: "x", additional_mounts: ["/a:/b:rw,zz"] }, "additional_mounts", /:ro or :rw/));
  it("accepts a read-only mount", () => {
    assert.deepEqual(build({ command: "x", additional_mounts: ["/data:/data:ro"] })[0]?.docker_mount_dirs, [
      "/data:/data:ro",
    ]);
  });

  for (const field of ["command", "arguments", "env_vars", "name"] as const) {
    it(`rejects a NUL byte in ${field}`, () => {
      const body = {
        command: field === "command" ? "a\0b" : "x",
        arguments: field === "arguments" ? ["a\0b"] : [],
        env_vars: field === "env_vars" ? { A: "a\0b" } : {},
        name: field === "name" ? "a\0b" : null,
      };
      const result = TaskSubmissionSchema.safeParse(body);
      assert.equal(result.success, false);
      assert.equal(result.error?.issues[0]?.path[0], field);
      assert.match(result.error?.issues[0]?.message ?? "", /NUL/);
    });
  }
});
