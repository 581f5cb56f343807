/**
 * The workload driver for the Docker Engine, talking to its API over the Unix socket through dockerode.
 * Containers are never auto-removed, so a restarted runner can still read their exit code and output.
 */

import { pullProgressTracker, readEngineJsonStream, type Logger } from "@kohakuriver/common";
import Docker from "dockerode";

import { completeContainerLogs, copyContainerLogs } from "./docker-logs.js";
import { buildCreateOptions, toContainerState } from "./docker-spec.js";
import { engineMessageOf, isUnreachable, statusCodeOf, wrapEngineError } from "./docker-errors.js";
import {
  ContainerExistsError,
  ContainerNotFoundError,
  ImageLoadError,
  ImageNotFoundError,
  ImagePullError,
  type ContainerState,
  type ImageSummary,
  type ImageInfo,
  type PullProgress,
  type LogFiles,
  type TaskContainerSpec,
  type WorkloadDriver,
} from "./types.js";

export interface DockerDriverOptions {
  /** Path of the engine's Unix socket, usually /var/run/docker.sock. */
  socketPath: string;
  logger?: Logger;
}

/** How long a SIGKILLed container with a memory limit is watched for a late OOMKilled flag. */
const OOM_FLAG_WAIT_MS = 1000;

/** Label on networks that this driver created. */
export const MANAGED_LABEL = "kohakuriver.managed";

/**
 * Turns the engine's multiplexed log stream (8-byte frame headers: stream, 3 zero bytes, big-endian
 * length) into text. A container with a TTY sends raw text, which is returned as it is.
 */
function demultiplexToText(buffer: Buffer): string {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    if ((stream !== 0 && stream !== 1 && stream !== 2) || buffer.readUIntBE(offset + 1, 3) !== 0) {
      return buffer.toString("utf8");
    }
    const length = buffer.readUInt32BE(offset + 4);
    chunks.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class DockerDriver implements WorkloadDriver {
  readonly docker: Docker;
  private readonly socketPath: string;
  private readonly logger: Logger | undefined;

  constructor(options: DockerDriverOptions) {
    this.socketPath = options.socketPath;
    this.logger = options.logger?.child({ component: "docker-driver" });
    this.docker = new Docker({ socketPath: options.socketPath });
  }

  async ping(): Promise<void> {
    await this.call("ping the engine", () => this.docker.ping());
  }

  async ensureNetwork(name: string, subnet: string, gateway: string): Promise<string> {
    const existing = await this.findNetwork(name);
    if (existing !== null) {
      const subnets = (existing.IPAM?.Config ?? []).map((config) => config.Subnet);
      if (!subnets.includes(subnet)) {
        this.logger?.warn({ network: name, expected: subnet, actual: subnets }, "network exists with another subnet");
      }
      return name;
    }

    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: "bridge",
        CheckDuplicate: true,
        IPAM: { Driver: "default", Config: [{ Subnet: subnet, Gateway: gateway }] },
        Labels: { [MANAGED_LABEL]: "true" },
      });
      this.logger?.info({ network: name, subnet, gateway }, "network created");
      return name;
    } catch (error) {
      if (isUnreachable(error)) {
        throw wrapEngineError(error, `create network ${name}`, this.socketPath);
      }
      // Another process may have created it in the meantime.
      if (statusCodeOf(error) === 409 && (await this.findNetwork(name)) !== null) {
        return name;
      }
      this.logger?.warn(
        { network: name, subnet, gateway, err: engineMessageOf(error) },
        "network creation failed, using the default bridge",
      );
      return "bridge";
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404) {
        return false;
      }
      throw wrapEngineError(error, `inspect image ${image}`, this.socketPath);
    }
  }

  async inspectImage(image: string): Promise<ImageInfo | null> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return {
        id: info.Id,
        tags: info.RepoTags ?? [],
        created: info.Created,
        labels: info.Config?.Labels ?? {},
        sizeBytes: info.Size,
      };
    } catch (error) {
      if (statusCodeOf(error) === 404) return null;
      throw wrapEngineError(error, `inspect image ${image}`, this.socketPath);
    }
  }

  async listImages(): Promise<ImageInfo[]> {
    const images = await this.call("list images", () => this.docker.listImages());
    return images.map((image) => ({
      id: image.Id,
      tags: (image.RepoTags ?? []).filter((tag) => tag !== "<none>:<none>"),
      created: new Date(image.Created * 1000).toISOString(),
      labels: image.Labels ?? {},
      sizeBytes: image.Size,
    }));
  }

  async loadImage(tarball: NodeJS.ReadableStream): Promise<string[]> {
    let response: NodeJS.ReadableStream;
    try {
      response = (await this.docker.loadImage(tarball, { quiet: true })) as NodeJS.ReadableStream;
    } catch (error) {
      if (isUnreachable(error)) throw wrapEngineError(error, "load an image", this.socketPath);
      throw new ImageLoadError(engineMessageOf(error));
    }

    const loaded: string[] = [];
    const { error } = await readEngineJsonStream(response, (event) => {
      const text = typeof event.stream === "string" ? event.stream : "";
      const match = /Loaded image(?: ID)?: (\S+)/.exec(text);
      if (match?.[1] !== undefined) loaded.push(match[1]);
    });
    if (error !== null) throw new ImageLoadError(error);
    this.logger?.debug({ images: loaded }, "image loaded");
    return loaded;
  }

  async pullImage(image: string, onProgress?: (progress: PullProgress) => void): Promise<void> {
    let response: NodeJS.ReadableStream;
    try {
      response = (await this.docker.pull(image)) as NodeJS.ReadableStream;
    } catch (error) {
      if (isUnreachable(error)) throw wrapEngineError(error, `pull image ${image}`, this.socketPath);
      throw new ImagePullError(image, engineMessageOf(error));
    }

    const track = pullProgressTracker();
    const { error } = await readEngineJsonStream(response, (event) => onProgress?.(track(event)));
    if (error !== null) throw new ImagePullError(image, error);
    this.logger?.info({ image }, "image pulled");
  }

  async createContainer(spec: TaskContainerSpec): Promise<void> {
    try {
      await this.docker.createContainer(buildCreateOptions(spec));
    } catch (error) {
      const statusCode = statusCodeOf(error);
      if (statusCode === 409) {
        throw new ContainerExistsError(spec.name);
      }
      // A 404 can also mean a missing network, so the image is checked before blaming it.
      if (statusCode === 404 && !(await this.imageExists(spec.image))) {
        throw new ImageNotFoundError(spec.image);
      }
      throw wrapEngineError(error, `create container ${spec.name} from image ${spec.image}`, this.socketPath);
    }
    this.logger?.debug({ container: spec.name, image: spec.image }, "container created");
  }

  async startContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).start();
    } catch (error) {
      // 304: already started.
      if (statusCodeOf(error) === 304) {
        return;
      }
      throw this.containerError(error, name, "start");
    }
  }

  async inspectContainer(name: string): Promise<ContainerState | null> {
    try {
      return toContainerState(await this.docker.getContainer(name).inspect());
    } catch (error) {
      if (statusCodeOf(error) === 404) {
        return null;
      }
      throw wrapEngineError(error, `inspect container ${name}`, this.socketPath);
    }
  }

  async captureLogs(name: string, files: LogFiles): Promise<void> {
    try {
      await copyContainerLogs(this.docker, name, files);
      const state = await this.inspectContainer(name);
      if (state !== null && !state.running) await completeContainerLogs(this.docker, name, files);
    } catch (error) {
      if (statusCodeOf(error) === null && !isUnreachable(error)) {
        // A file system or stream error, which already names its path.
        throw error;
      }
      throw this.containerError(error, name, "read the logs of");
    }
  }

  async waitContainer(name: string): Promise<number> {
    let statusCode: number;
    try {
      const result = (await this.docker.getContainer(name).wait()) as { StatusCode: number };
      statusCode = result.StatusCode;
    } catch (error) {
      throw this.containerError(error, name, "wait for");
    }
    if (statusCode === 137) await this.awaitLateOomFlag(name);
    return statusCode;
  }

  /**
   * Waits up to OOM_FLAG_WAIT_MS for OOMKilled on a container that exited with SIGKILL. The engine sets the
   * flag when it handles containerd's OOM event, which can arrive after the exit event on a loaded machine
   * (seen with Docker 20.10 on cgroup v1). A SIGKILL that was not an OOM kill costs this wait once.
   */
  private async awaitLateOomFlag(name: string): Promise<void> {
    const container = this.docker.getContainer(name);
    const deadline = Date.now() + OOM_FLAG_WAIT_MS;
    while (Date.now() < deadline) {
      const info = await container.inspect().catch(() => null);
      if (info === null || info.State.OOMKilled || (info.HostConfig.Memory ?? 0) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async killContainer(name: string, signal = "SIGKILL"): Promise<void> {
    try {
      await this.docker.getContainer(name).kill({ signal });
    } catch (error) {
      // 404: no such container. 409: it is not running.
      const statusCode = statusCodeOf(error);
      if (statusCode === 404 || statusCode === 409) {
        return;
      }
      throw wrapEngineError(error, `send ${signal} to container ${name}`, this.socketPath);
    }
  }

  async removeContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).remove({ force: true, v: true });
    } catch (error) {
      const statusCode = statusCodeOf(error);
      // 404: already gone. 409: a removal is already in progress.
      if (statusCode === 404 || (statusCode === 409 && /already in progress/i.test(engineMessageOf(error)))) {
        return;
      }
      throw wrapEngineError(error, `remove container ${name}`, this.socketPath);
    }
  }

  async pauseContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).pause();
    } catch (error) {
      // Docker 20.10 returns 409 here. The message is checked because status codes vary between versions.
      if (statusCodeOf(error) !== null && /already paused/i.test(engineMessageOf(error))) {
        return;
      }
      throw this.containerError(error, name, "pause");
    }
  }

  async unpauseContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).unpause();
    } catch (error) {
      // Docker 20.10 returns 500 here, so only the message identifies the case.
      if (statusCodeOf(error) !== null && /is not paused/i.test(engineMessageOf(error))) {
        return;
      }
      throw this.containerError(error, name, "unpause");
    }
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerState[]> {
    const filters = { label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) };
    const summaries = await this.call("list containers", () => this.docker.listContainers({ all: true, filters }));

    // The summary lacks OOMKilled and the exact exit code, so each container is inspected. One removed in
    // between is left out.
    const states = await Promise.all(summaries.map((summary) => this.inspectContainer(summary.Id)));
    return states.filter((state): state is ContainerState => state !== null);
  }

  async readLogTail(name: string, lines: number): Promise<string> {
    try {
      const buffer = (await this.docker
        .getContainer(name)
        .logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
      return demultiplexToText(buffer);
    } catch (error) {
      throw this.containerError(error, name, "read the logs of");
    }
  }

  async commitContainer(name: string, repository: string, tag: string, comment: string): Promise<void> {
    try {
      await this.docker.getContainer(name).commit({ repo: repository, tag, comment, pause: true });
    } catch (error) {
      throw this.containerError(error, name, "commit");
    }
    this.logger?.info({ container: name, image: `${repository}:${tag}` }, "container committed");
  }

  async listRepositoryImages(repository: string): Promise<ImageSummary[]> {
    const images = await this.call(`list images of ${repository}`, () =>
      this.docker.listImages({ filters: { reference: [repository] } }),
    );
    const summaries: ImageSummary[] = [];
    for (const image of images) {
      for (const reference of image.RepoTags ?? []) {
        const separator = reference.lastIndexOf(":");
        if (reference.slice(0, separator) !== repository) continue;
        // The list lacks the commit message, so each image is inspected; one removed in between is left out.
        const details = await this.docker
          .getImage(reference)
          .inspect()
          .catch(() => null);
        if (details === null) continue;
        summaries.push({
          reference,
          tag: reference.slice(separator + 1),
          created: image.Created,
          sizeBytes: image.Size,
          comment: details.Comment === "" ? null : details.Comment,
        });
      }
    }
    return summaries.sort((a, b) => b.created - a.created || b.tag.localeCompare(a.tag));
  }

  async removeImage(reference: string): Promise<void> {
    try {
      // With force, a tag whose image a container uses is removed too; the container keeps the image.
      await this.docker.getImage(reference).remove({ force: true });
    } catch (error) {
      if (statusCodeOf(error) === 404) return;
      throw wrapEngineError(error, `remove image ${reference}`, this.socketPath);
    }
    this.logger?.info({ image: reference }, "image removed");
  }

  private async findNetwork(name: string): Promise<Docker.NetworkInspectInfo | null> {
    // The engine's name filter matches substrings, so the exact name is picked out here.
    const networks = await this.call("list networks", () => this.docker.listNetworks({ filters: { name: [name] } }));
    return networks.find((network) => network.Name === name) ?? null;
  }

  private containerError(error: unknown, name: string, verb: string): Error {
    if (statusCodeOf(error) === 404) {
      return new ContainerNotFoundError(name);
    }
    return wrapEngineError(error, `${verb} container ${name}`, this.socketPath);
  }

  private async call<T>(action: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw wrapEngineError(error, action, this.socketPath);
    }
  }
}
