/**
 * Finds the container of a task or VPS on this node for the routes that reach into it (terminal, port
 * forwarding, files, change watching). It must be known to the runner's state and running, not paused.
 */

import { ConflictError, NotFoundError } from "@kohakuriver/api";
import type Docker from "dockerode";

import type { RunnerState } from "../state/runner-state.js";

export interface WorkloadContainer {
  taskId: string;
  name: string;
  container: Docker.Container;
  /** The container's inspect data at lookup time. */
  info: Docker.ContainerInspectInfo;
}

export class WorkloadContainers {
  constructor(private readonly options: { state: RunnerState; docker: Docker }) {}

  async resolveRunning(taskId: string): Promise<WorkloadContainer> {
    const entry = this.options.state.get(taskId);
    if (entry === undefined) throw new NotFoundError(`task ${taskId} is not on this node`);
    const kind = entry.task_type === "vps" ? "VPS" : "task";
    const container = this.options.docker.getContainer(entry.container_name);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        throw new ConflictError(`${kind} ${taskId} has no container (${entry.container_name}) on this node yet`);
      }
      throw error;
    }
    if (info.State.Paused) throw new ConflictError(`${kind} ${taskId} is paused; resume it first`);
    if (!info.State.Running) throw new ConflictError(`${kind} ${taskId} is not running (its container has exited)`);
    return { taskId, name: entry.container_name, container, info };
  }
}

/**
 * Returns the container's IP address on its Docker network: the network it was created on
 * (`HostConfig.NetworkMode`), else the first network that gave it an address. Null when it has none, as
 * with network mode "host" or "none".
 */
export function containerNetworkAddress(info: Docker.ContainerInspectInfo): string | null {
  const networks = info.NetworkSettings.Networks;
  const own = networks[info.HostConfig.NetworkMode ?? ""];
  const candidates = own === undefined ? Object.values(networks) : [own, ...Object.values(networks)];
  for (const network of candidates) {
    if (network.IPAddress !== "") return network.IPAddress;
    if (network.GlobalIPv6Address !== "") return network.GlobalIPv6Address;
  }
  return null;
}
