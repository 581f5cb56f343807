import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { TaskSubmissionSchema } from "@kohakuriver/api";

import { UsageError } from "../../errors.js";
import { buildSubmission } from "./submission.js";

describe("buildSubmission", () => {
  it("sends the command words in exec form", () => {
    const body = buildSubmission({}, ["python", "train.py", "--lr", "0.1", "it's quoted"]);
    assert.equal(body.command, "python");
    assert.deepEqual(body.arguments, ["train.py", "--lr", "0.1", "it's quoted"]);
    assert.equal(body.shell, false);
    assert.equal(body.task_type, "command");
    assert.equal(body.required_cores, 1);
  });

  it("leaves unset options to the host's defaults", () => {
    const body = buildSubmission({}, ["true"]);
    assert.equal(body.targets, undefined);
    assert.equal(body.required_gpus, undefined);
    assert.equal(body.required_memory_bytes, undefined);
    assert.equal(body.container_name, undefined);
    assert.equal(body.registry_image, undefined);
    assert.equal(body.privileged, undefined);
    assert.equal(body.additional_mounts, undefined);
    assert.equal(body.env_vars, undefined);
  });

  it("rejects an empty command", () => {
    assert.throws(() => buildSubmission({}, []), { name: "UsageError", message: /missing command: put it after --/ });
    assert.throws(() => buildSubmission({}, [""]), UsageError);
  });

  it("splits GPU indices per target", () => {
    const body = buildSubmission({ target: ["node1:0::0,1", "node2", "node3::3"] }, ["nvidia-smi"]);
    assert.deepEqual(body.targets, ["node1:0", "node2", "node3"]);
    assert.deepEqual(body.required_gpus, [[0, 1], [], [3]]);
  });

  it("sends no GPU lists for targets without GPUs", () => {
    const body = buildSubmission({ target: ["node1", "node2:1"] }, ["hostname"]);
    assert.deepEqual(body.targets, ["node1", "node2:1"]);
    assert.equal(body.required_gpus, undefined);
  });

  it("names --target in target errors", () => {
    assert.throws(() => buildSubmission({ target: ["node1:x"] }, ["true"]), {
      name: "UsageError",
      message: /^--target: invalid NUMA node 'x' in target 'node1:x'/,
    });
    assert.throws(() => buildSubmission({ target: ["node1::a"] }, ["true"]), {
      message: /^--target: invalid GPU list 'a'/,
    });
    assert.throws(() => buildSubmission({ target: ["-bad"] }, ["true"]), { message: /^--target: invalid host name/ });
  });

  it("parses memory sizes with decimal suffixes", () => {
    assert.equal(buildSubmission({ memory: "4G" }, ["true"]).required_memory_bytes, 4_000_000_000);
    assert.equal(buildSubmission({ memory: "512M" }, ["true"]).required_memory_bytes, 512_000_000);
    assert.equal(buildSubmission({ memory: "1048576" }, ["true"]).required_memory_bytes, 1_048_576);
  });

  it("rejects an invalid memory size", () => {
    assert.throws(() => buildSubmission({ memory: "12Q" }, ["true"]), {
      name: "UsageError",
      message: "invalid memory size '12Q' for --memory: use a number with K, M or G, such as 512M or 4G",
    });
  });

  it("parses cores, with 0 meaning no limit", () => {
    assert.equal(buildSubmission({ cores: "0" }, ["true"]).required_cores, 0);
    assert.equal(buildSubmission({ cores: "8" }, ["true"]).required_cores, 8);
    assert.equal(buildSubmission({ cores: "0.5" }, ["true"]).required_cores, 0.5);
    assert.throws(() => buildSubmission({ cores: "-1" }, ["true"]), { message: /invalid value '-1' for --cores/ });
    assert.throws(() => buildSubmission({ cores: "many" }, ["true"]), { message: /invalid value 'many' for --cores/ });
  });

  it("accepts --cpus as an alias of --cores", () => {
    assert.equal(buildSubmission({ cpus: "2" }, ["true"]).required_cores, 2);
    assert.equal(buildSubmission({ cpus: "0.5" }, ["true"]).required_cores, 0.5);
    assert.throws(() => buildSubmission({ cpus: "all" }, ["true"]), { message: /invalid value 'all' for --cpus/ });
    assert.throws(() => buildSubmission({ cpus: "2", cores: "2" }, ["true"]), {
      name: "UsageError",
      message: /--cores and --cpus cannot be used together/,
    });
  });

  it("sends a GPU count for automatic placement", () => {
    const body = buildSubmission({ gpus: "2" }, ["true"]);
    assert.equal(body.required_gpu_count, 2);
    assert.equal(body.required_gpus, undefined);
    assert.throws(() => buildSubmission({ gpus: "two" }, ["true"]), { message: /invalid value 'two' for --gpus/ });
  });

  it("rejects a GPU count together with GPU indices", () => {
    assert.throws(() => buildSubmission({ gpus: "1", target: ["node1::0"] }, ["true"]), {
      message: /--gpus cannot be combined with GPU indices in --target/,
    });
  });

  it("maps environment, image, mounts and flags", () => {
    const body = buildSubmission(
      {
        image: "python:3.12-slim",
        privileged: true,
        mount: ["/data:/data:ro", "/models:/models"],
        env: ["SEED=42", "EMPTY=", "URL=http://x/?a=b"],
        name: "train",
      },
      ["python", "-V"],
    );
    assert.equal(body.registry_image, "python:3.12-slim");
    assert.equal(body.privileged, true);
    assert.deepEqual(body.additional_mounts, ["/data:/data:ro", "/models:/models"]);
    assert.deepEqual(body.env_vars, { SEED: "42", EMPTY: "", URL: "http://x/?a=b" });
    assert.equal(body.name, "train");
  });

  it("uses --container as the environment name", () => {
    assert.equal(buildSubmission({ container: "torch" }, ["true"]).container_name, "torch");
  });

  it("rejects --image together with --container", () => {
    assert.throws(() => buildSubmission({ image: "busybox", container: "torch" }, ["true"]), {
      message: /--image and --container cannot be used together/,
    });
  });

  it("rejects malformed --env values", () => {
    assert.throws(() => buildSubmission({ env: ["NOVALUE"] }, ["true"]), {
      message: /invalid value 'NOVALUE' for --env/,
    });
    assert.throws(() => buildSubmission({ env: ["1BAD=x"] }, ["true"]), {
      message: /invalid value '1BAD=x' for --env/,
    });
  });

  it("builds bodies the submission schema accepts", () => {
    const body = buildSubmission(
      { target: ["node1:0::0,1", "node2"], cores: "4", memory: "2G", env: ["A=1"], mount: ["/a:/b"], name: "batch" },
      ["sh", "-c", "echo $A"],
    );
    const parsed = TaskSubmissionSchema.parse(body);
    assert.equal(parsed.shell, false);
    assert.deepEqual(parsed.required_gpus, [[0, 1], []]);
    assert.equal(parsed.required_memory_bytes, 2_000_000_000);
  });
});
