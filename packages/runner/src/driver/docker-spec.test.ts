import assert from "node:assert/strict";
import { describe, test } from "node:test";

import type { ContainerInspectInfo } from "dockerode";

import { buildCreateOptions, toContainerState } from "./docker-spec.js";
import { containerSpec } from "./driver-conformance.fixture.js";
import type { TaskContainerSpec } from "./types.js";

function spec(extra: Partial<TaskContainerSpec> = {}): TaskContainerSpec {
  return containerSpec({
    name: "kohakuriver-task-1",
    image: "kohakuriver/base:base",
    cmd: ["/bin/sh", "-c", "echo hi"],
    env: { A: "1", B: "x=y" },
    labels: { "kohakuriver.task_id": "1" },
    workingDir: "/shared",
    binds: [{ source: "/srv/shared", target: "/shared" }],
    ...extra,
  });
}

describe("buildCreateOptions", () => {
  test("minimal spec sets no limits", () => {
    const options = buildCreateOptions(spec());

    assert.equal(options.name, "kohakuriver-task-1");
    assert.deepEqual(options.Entrypoint, []);
    assert.deepEqual(options.Cmd, ["/bin/sh", "-c", "echo hi"]);
    assert.deepEqual(options.Env, ["A=1", "B=x=y"]);
    assert.equal(options.WorkingDir, "/shared");
    assert.equal(options.HostConfig?.NanoCpus, undefined);
    assert.equal(options.HostConfig?.Memory, undefined);
    assert.equal(options.HostConfig?.DeviceRequests, undefined);
    assert.equal(options.HostConfig?.NetworkMode, undefined);
    assert.equal(options.HostConfig?.AutoRemove, false);
    assert.deepEqual(options.HostConfig?.LogConfig, { Type: "json-file", Config: {} });
    assert.deepEqual(options.HostConfig?.Mounts, [
      { Type: "bind", Source: "/srv/shared", Target: "/shared", ReadOnly: false },
    ]);
  });

  test("limits and GPUs become HostConfig fields", () => {
    const options = buildCreateOptions(
      spec({ cores: 0.5, memoryBytes: 1 << 30, cpusetCpus: "0-3,8", cpusetMems: "0", gpuIds: [2, 3] }),
    );

    assert.equal(options.HostConfig?.NanoCpus, 500_000_000);
    assert.equal(options.HostConfig?.Memory, 1 << 30);
    assert.equal(options.HostConfig?.MemorySwap, 1 << 30);
    assert.equal(options.HostConfig?.CpusetCpus, "0-3,8");
    assert.equal(options.HostConfig?.CpusetMems, "0");
    assert.deepEqual(options.HostConfig?.DeviceRequests, [
      { Driver: "nvidia", DeviceIDs: ["2", "3"], Capabilities: [["gpu"]] },
    ]);
  });

  test("privileged wins over capAdd", () => {
    const privileged = buildCreateOptions(spec({ privileged: true, capAdd: ["SYS_NICE"] }));
    const withCaps = buildCreateOptions(spec({ capAdd: ["SYS_NICE"] }));

    assert.equal(privileged.HostConfig?.Privileged, true);
    assert.equal(privileged.HostConfig?.CapAdd, undefined);
    assert.deepEqual(withCaps.HostConfig?.CapAdd, ["SYS_NICE"]);
  });

  test("network with fixed address", () => {
    const withIp = buildCreateOptions(spec({ network: "kohakuriver-net", ipAddress: "172.30.0.5" }));
    const withoutIp = buildCreateOptions(spec({ network: "kohakuriver-net" }));

    assert.equal(withIp.HostConfig?.NetworkMode, "kohakuriver-net");
    assert.deepEqual(withIp.NetworkingConfig, {
      EndpointsConfig: { "kohakuriver-net": { IPAMConfig: { IPv4Address: "172.30.0.5" } } },
    });
    assert.equal(withoutIp.HostConfig?.NetworkMode, "kohakuriver-net");
    assert.equal(withoutIp.NetworkingConfig, undefined);
  });

  test("empty cmd keeps image entrypoint", () => {
    const options = buildCreateOptions(spec({ cmd: [], workingDir: "" }));

    assert.equal(options.Entrypoint, undefined);
    assert.equal(options.Cmd, undefined);
    assert.equal(options.WorkingDir, undefined);
  });
});

describe("toContainerState", () => {
  function inspectInfo(state: Partial<ContainerInspectInfo["State"]>): ContainerInspectInfo {
    return {
      Id: "abc",
      Name: "/kohakuriver-task-1",
      RestartCount: 0,
      Config: { Image: "img:tag", Labels: { a: "b" } },
      State: {
        Status: "running",
        Running: true,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: 10,
        ExitCode: 0,
        Error: "",
        StartedAt: "2025-01-01T00:00:00.1Z",
        FinishedAt: "0001-01-01T00:00:00Z",
        ...state,
      },
    } as unknown as ContainerInspectInfo;
  }

  test("running container has no exit code", () => {
    const state = toContainerState(inspectInfo({}));

    assert.equal(state.name, "kohakuriver-task-1");
    assert.equal(state.exitCode, null);
    assert.equal(state.startedAt, "2025-01-01T00:00:00.1Z");
    assert.equal(state.finishedAt, null);
  });

  test("exited container keeps exit code and OOM flag", () => {
    const state = toContainerState(
      inspectInfo({
        Status: "exited",
        Running: false,
        ExitCode: 137,
        OOMKilled: true,
        FinishedAt: "2025-01-01T00:01:00Z",
      }),
    );

    assert.equal(state.exitCode, 137);
    assert.equal(state.oomKilled, true);
    assert.equal(state.finishedAt, "2025-01-01T00:01:00Z");
  });
});
