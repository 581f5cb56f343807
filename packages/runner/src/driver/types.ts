/**
 * The runner's workload driver: how containers are created, watched and stopped. The real implementation
 * talks to the Docker Engine API through dockerode; a fake for unit tests passes the same conformance suite.
 */

import { ImagePullError, type PullProgress } from "@kohakuriver/common";

export { ImagePullError, type PullProgress };

export interface BindMount {
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface TaskContainerSpec {
  /** Docker container name, for example kohakuriver-task-{id}. */
  name: string;
  image: string;
  /**
   * The full command line, already decided between `/bin/sh -c …` and exec form. It runs exactly as given
   * because the image's ENTRYPOINT is cleared. An empty list keeps the image's own ENTRYPOINT and CMD.
   */
  cmd: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  workingDir: string;
  binds: BindMount[];
  /** CPU quota in cores (0 = no limit); becomes HostConfig.NanoCpus. */
  cores: number;
  /** Memory limit in bytes (null or 0 = no limit); becomes HostConfig.Memory. */
  memoryBytes: number | null;
  /** cpuset lists such as "0-3,8"; null = no binding. */
  cpusetCpus: string | null;
  cpusetMems: string | null;
  /** GPU indices passed through with an NVIDIA device request; empty = none. */
  gpuIds: number[];
  privileged: boolean;
  capAdd: string[];
  /** Docker network to attach; null = Docker's default bridge. */
  network: string | null;
  /** Fixed IP on that network, when reserved. */
  ipAddress: string | null;
  /** Container TCP ports published on a free port of every host address (VPS SSH); absent = none. */
  publishPorts?: number[];
  /**
   * Restart policy of the engine. VPS sessions use `unless-stopped`, so the engine starts the container
   * again after it exits or the engine restarts. Command tasks leave it absent (`no`).
   */
  restartPolicy?: "no" | "unless-stopped";
  /** Runs Docker's init (tini) as PID 1, so SIGTERM stops the workload at once; absent = false. */
  init?: boolean;
}

/** An image of a repository on the engine, as listed by listRepositoryImages. */
export interface ImageSummary {
  /** Full reference, repository:tag. */
  reference: string;
  tag: string;
  /** Unix time in seconds when the image was created. */
  created: number;
  sizeBytes: number;
  /** The commit message, or null when none was given. */
  comment: string | null;
}

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  /** True while the container's processes exist, including while it is paused (as Docker reports it). */
  running: boolean;
  paused: boolean;
  /** Docker's State.Status: created, running, paused, restarting, removing, exited or dead. */
  status: string;
  /** The exit code once the container has exited (status exited or dead); null before. */
  exitCode: number | null;
  oomKilled: boolean;
  /** ISO timestamps from Docker; null when never started / not finished. */
  startedAt: string | null;
  finishedAt: string | null;
  restartCount: number;
  /** Docker's error text for a container that failed to start, empty otherwise. */
  error: string;
  /** Host ports of published container ports, keyed like Docker as "22/tcp"; empty when none. */
  publishedPorts: Record<string, number>;
}

export interface LogFiles {
  stdoutPath: string;
  stderrPath: string;
}

export interface ImageInfo {
  id: string;
  tags: string[];
  /** ISO timestamp of the image's creation, as Docker reports it. */
  created: string;
  labels: Record<string, string>;
  sizeBytes: number;
}

export interface WorkloadDriver {
  /** Resolves when the engine responds; rejects with a message naming the socket otherwise. */
  ping(): Promise<void>;
  /** Makes sure a bridge network exists; returns the network to attach workloads to (falls back to "bridge"). */
  ensureNetwork(name: string, subnet: string, gateway: string): Promise<string>;
  imageExists(image: string): Promise<boolean>;
  /** Returns the image's id, tags, creation time and labels, or null when it is not present. */
  inspectImage(image: string): Promise<ImageInfo | null>;
  listImages(): Promise<ImageInfo[]>;
  /**
   * Streams an image tarball (as `docker save` writes it) into the engine. Resolves to the image references
   * the engine reports as loaded. Rejects with ImageLoadError, carrying the engine's reason, when the
   * tarball is truncated or not an image archive; tags that existed before stay unchanged then.
   */
  loadImage(tarball: NodeJS.ReadableStream): Promise<string[]>;
  /** Pulls an image from its registry. Rejects with ImagePullError carrying Docker's reason. */
  pullImage(image: string, onProgress?: (progress: PullProgress) => void): Promise<void>;
  /** Creates a container without starting it. Rejects with ContainerExistsError when the name is taken. */
  createContainer(spec: TaskContainerSpec): Promise<void>;
  startContainer(name: string): Promise<void>;
  /** Returns the container's state, or null when no container has that name. */
  inspectContainer(name: string): Promise<ContainerState | null>;
  /**
   * Writes the container's complete stdout and stderr (from its start) into the two files, truncating them
   * first, and follows the output until the container stops. Resolves once everything is written.
   * Calling it again after a runner restart rewrites the files from the beginning, so nothing is lost or
   * doubled (the engine keeps a container's output until the container is removed).
   * Call it after startContainer: for a container that was never started it writes two empty files.
   */
  captureLogs(name: string, files: LogFiles): Promise<void>;
  /** Waits until the container is no longer running; returns its exit code. */
  waitContainer(name: string): Promise<number>;
  /** Sends a signal (default SIGKILL); a container that is not running is not an error. */
  killContainer(name: string, signal?: string): Promise<void>;
  /** Removes the container (forcefully); a missing container is not an error. */
  removeContainer(name: string): Promise<void>;
  /** Freezes a running container; an already paused one is not an error. */
  pauseContainer(name: string): Promise<void>;
  /** Thaws a paused container; one that is not paused is not an error. */
  unpauseContainer(name: string): Promise<void>;
  /** Lists all containers (running or not) whose labels include every given label. */
  listContainers(labels: Record<string, string>): Promise<ContainerState[]>;
  /** Returns the last `lines` lines of the container's stdout and stderr, interleaved as written. */
  readLogTail(name: string, lines: number): Promise<string>;
  /**
   * Commits the container's file system as repository:tag, pausing it meanwhile so the copy is consistent.
   * An existing image with that reference is replaced.
   */
  commitContainer(name: string, repository: string, tag: string, comment: string): Promise<void>;
  /** Lists the images of one repository, newest first. */
  listRepositoryImages(repository: string): Promise<ImageSummary[]>;
  /**
   * Removes an image tag by reference, also when a container was created from it (the container keeps
   * its image). A missing image is not an error.
   */
  removeImage(reference: string): Promise<void>;
}

export class ContainerExistsError extends Error {
  override name = "ContainerExistsError";
  constructor(readonly containerName: string) {
    super(`a container named ${containerName} already exists`);
  }
}

/** The image is not present locally; the message names it and how to provide it. */
export class ImageNotFoundError extends Error {
  override name = "ImageNotFoundError";
  constructor(
    readonly image: string,
    detail?: string,
  ) {
    super(
      detail ??
        `image ${image} not found on this node. Build or load it there (for example with docker load) and retry`,
    );
  }
}

export class ContainerNotFoundError extends Error {
  override name = "ContainerNotFoundError";
  constructor(readonly containerName: string) {
    super(`container ${containerName} not found`);
  }
}

export class ImageLoadError extends Error {
  override name = "ImageLoadError";
  constructor(readonly reason: string) {
    super(`the Docker Engine could not load the image: ${reason}`);
  }
}

/** No Docker Engine listens on the configured socket. */
export class EngineUnavailableError extends Error {
  override name = "EngineUnavailableError";
  constructor(
    readonly socketPath: string,
    options?: ErrorOptions,
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(
      `Docker Engine not reachable at ${socketPath}${reason}. Check that dockerd is running and the runner may use its socket`,
      options,
    );
  }
}

/** Any other failed engine call; the message names the operation and the container, image or network. */
export class DriverOperationError extends Error {
  override name = "DriverOperationError";
  constructor(
    message: string,
    readonly statusCode: number | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
