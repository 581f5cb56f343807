/**
 * Pure translations between the driver's types and the Docker Engine API: a TaskContainerSpec becomes a
 * container create request, and an inspect result becomes a ContainerState.
 */

import type { ContainerCreateOptions, ContainerInspectInfo, HostConfig } from "dockerode";

import type { ContainerState, TaskContainerSpec } from "./types.js";

/** Docker's zero time, reported for a container that never started or has not finished. */
const ZERO_TIME_PREFIX = "0001-01-01";

/**
 * Builds the create request for a container. It is never auto-removed, and restarted by the engine only
 * with the `unless-stopped` restart policy.
 */
export function buildCreateOptions(spec: TaskContainerSpec): ContainerCreateOptions {
  const options: ContainerCreateOptions = {
    name: spec.name,
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: { ...spec.labels },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: buildHostConfig(spec),
  };
  const published = spec.publishPorts ?? [];
  if (published.length > 0) {
    options.ExposedPorts = Object.fromEntries(published.map((port) => [`${port}/tcp`, {}]));
  }

  // An empty Entrypoint overrides the image's ENTRYPOINT, so Cmd[0] is the program that runs. The engine
  // keeps the image's entrypoint only when the field is absent (checked on Docker 20.10).
  if (spec.cmd.length > 0) {
    options.Entrypoint = [];
    options.Cmd = [...spec.cmd];
  }
  if (spec.workingDir !== "") {
    options.WorkingDir = spec.workingDir;
  }
  if (spec.network !== null && spec.ipAddress !== null) {
    options.NetworkingConfig = {
      EndpointsConfig: { [spec.network]: { IPAMConfig: { IPv4Address: spec.ipAddress } } },
    };
  }
  return options;
}

function buildHostConfig(spec: TaskContainerSpec): HostConfig {
  // json-file is set explicitly because captureLogs reads the output back through the logs API, which a
  // daemon default of "none" or "syslog" would not serve. No max-size, so a re-capture still has everything.
  const hostConfig: HostConfig = {
    LogConfig: { Type: "json-file", Config: {} },
    AutoRemove: false,
    RestartPolicy: { Name: spec.restartPolicy ?? "no" },
    Mounts: spec.binds.map((bind) => ({
      Type: "bind" as const,
      Source: bind.source,
      Target: bind.target,
      ReadOnly: bind.readOnly === true,
    })),
  };

  if (spec.cores > 0) {
    hostConfig.NanoCpus = Math.round(spec.cores * 1e9);
  }
  if (spec.memoryBytes !== null && spec.memoryBytes > 0) {
    // MemorySwap equal to Memory forbids swap, so the limit is a real one. Kernels without swap
    // accounting ignore it, and the engine logs a warning.
    hostConfig.Memory = spec.memoryBytes;
    hostConfig.MemorySwap = spec.memoryBytes;
  }
  if (spec.cpusetCpus !== null && spec.cpusetCpus !== "") {
    hostConfig.CpusetCpus = spec.cpusetCpus;
  }
  if (spec.cpusetMems !== null && spec.cpusetMems !== "") {
    hostConfig.CpusetMems = spec.cpusetMems;
  }
  if (spec.gpuIds.length > 0) {
    hostConfig.DeviceRequests = [{ Driver: "nvidia", DeviceIDs: spec.gpuIds.map(String), Capabilities: [["gpu"]] }];
  }
  if (spec.privileged) {
    hostConfig.Privileged = true;
  } else if (spec.capAdd.length > 0) {
    hostConfig.CapAdd = [...spec.capAdd];
  }
  if (spec.network !== null) {
    hostConfig.NetworkMode = spec.network;
  }
  const published = spec.publishPorts ?? [];
  if (published.length > 0) {
    // An empty HostPort makes the engine pick a free port, which inspect then reports.
    hostConfig.PortBindings = Object.fromEntries(published.map((port) => [`${port}/tcp`, [{ HostPort: "" }]]));
  }
  if (spec.init === true) {
    hostConfig.Init = true;
  }
  return hostConfig;
}

function timeOrNull(value: string | undefined): string | null {
  if (value === undefined || value === "" || value.startsWith(ZERO_TIME_PREFIX)) {
    return null;
  }
  return value;
}

export function toContainerState(info: ContainerInspectInfo): ContainerState {
  const state = info.State;
  const exited = state.Status === "exited" || state.Status === "dead";
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ""),
    image: info.Config.Image,
    labels: { ...(info.Config.Labels ?? {}) },
    running: state.Running,
    paused: state.Paused,
    status: state.Status,
    exitCode: exited ? state.ExitCode : null,
    oomKilled: state.OOMKilled,
    startedAt: timeOrNull(state.StartedAt),
    finishedAt: timeOrNull(state.FinishedAt),
    restartCount: info.RestartCount ?? 0,
    error: state.Error ?? "",
    publishedPorts: publishedPortsOf(info),
  };
}

/** Reads the host port of each published container port; the first binding wins when there are several. */
function publishedPortsOf(info: ContainerInspectInfo): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const [containerPort, bindings] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    const hostPort = Number(bindings?.[0]?.HostPort);
    if (Number.isInteger(hostPort) && hostPort > 0) ports[containerPort] = hostPort;
  }
  return ports;
}
