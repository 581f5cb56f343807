/**
 * An in-memory workload driver for unit tests. Commands are not interpreted: each container follows a
 * scripted behaviour (output, exit code, duration, OOM kill) chosen by container name or image, and the
 * default behaviour exits 0 at once without output. It passes the same conformance suite as DockerDriver.
 */

import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import { dirname } from "node:path";

import {
  ContainerExistsError,
  ContainerNotFoundError,
  DriverOperationError,
  EngineUnavailableError,
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

export interface FakeBehaviour {
  /** Exit code when the container ends by itself. Default 0. */
  exitCode?: number;
  /** Output written as soon as the container starts. */
  stdout?: string;
  stderr?: string;
  /** Milliseconds the container runs before it exits; Infinity runs until killed. Default 0. */
  durationMs?: number;
  /** Output written just before the container exits by itself. */
  laterStdout?: string;
  /** The container ends as killed by the OOM killer: exit code 137 and oomKilled set. */
  oom?: boolean;
}

export interface FakeDriverOptions {
  /** Images present from the start. Default: kohakuriver/kohakuriver-base:base. */
  images?: string[];
  /** Behaviours keyed by container name or image; see setBehaviour. */
  behaviours?: Record<string, FakeBehaviour>;
  /** Images that pullImage can fetch; pulling any other image fails as for an unknown repository. */
  registryImages?: string[];
}

/**
 * Contents of a tarball that the fake loads: JSON with this shape (see fakeImageTarball). Anything else
 * fails to load, as a truncated or foreign file does with Docker.
 */
interface FakeImageArchive {
  kohakuriverFakeImage: { tags: string[]; labels: Record<string, string> };
}

/** Returns the contents of a tarball that FakeDriver.loadImage accepts. */
export function fakeImageTarball(tags: string[], labels: Record<string, string> = {}): string {
  const archive: FakeImageArchive = { kohakuriverFakeImage: { tags, labels } };
  return JSON.stringify(archive);
}

interface FakeContainer {
  id: string;
  spec: TaskContainerSpec;
  behaviour: FakeBehaviour;
  status: "created" | "running" | "paused" | "exited";
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  stdout: string;
  stderr: string;
  /** Pending natural exit while running, and the time left while paused. */
  exitTimer: NodeJS.Timeout | null;
  exitDueAt: number;
  remainingMs: number;
  exitWaiters: Array<() => void>;
  publishedPorts: Record<string, number>;
}

const SOCKET_PATH = "fake://docker";

export class FakeDriver implements WorkloadDriver {
  private readonly images: Set<string>;
  private readonly behaviours = new Map<string, FakeBehaviour>();
  private readonly containers = new Map<string, FakeContainer>();
  private readonly networks = new Map<string, string>();
  /** Committed images by reference, with the name of the container they came from. */
  private readonly committed = new Map<string, ImageSummary & { source: string }>();
  private nextHostPort = 32768;
  private readonly imageLabels = new Map<string, Record<string, string>>();
  private readonly registryImages: Set<string>;
  private reachable = true;
  /** Number of successful loadImage calls, for assertions in tests. */
  loadCount = 0;

  constructor(options: FakeDriverOptions = {}) {
    this.images = new Set(options.images ?? ["kohakuriver/kohakuriver-base:base"]);
    this.registryImages = new Set(options.registryImages ?? []);
    for (const [key, behaviour] of Object.entries(options.behaviours ?? {})) {
      this.behaviours.set(key, behaviour);
    }
  }

  /** Scripts containers created later with this name or image; a name match wins over an image match. */
  setBehaviour(nameOrImage: string, behaviour: FakeBehaviour): void {
    this.behaviours.set(nameOrImage, behaviour);
  }

  addImage(image: string): void {
    this.images.add(image);
  }

  /** While false, every call rejects with EngineUnavailableError, as when dockerd is down. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
  }

  /** Returns the spec a container was created with, for assertions in tests. */
  specOf(name: string): TaskContainerSpec | undefined {
    return this.containers.get(name)?.spec;
  }

  async ping(): Promise<void> {
    this.checkReachable();
  }

  async ensureNetwork(name: string, subnet: string, _gateway: string): Promise<string> {
    this.checkReachable();
    if (this.networks.has(name)) {
      return name;
    }
    // Only identical subnets count as overlapping here, which is enough to exercise the fallback.
    if ([...this.networks.values()].includes(subnet)) {
      return "bridge";
    }
    this.networks.set(name, subnet);
    return name;
  }

  async imageExists(image: string): Promise<boolean> {
    this.checkReachable();
    return this.images.has(image);
  }

  async inspectImage(image: string): Promise<ImageInfo | null> {
    this.checkReachable();
    if (!this.images.has(image)) return null;
    return {
      id: `sha256:${Buffer.from(image).toString("hex").padEnd(64, "0").slice(0, 64)}`,
      tags: [image],
      created: new Date(0).toISOString(),
      labels: { ...this.imageLabels.get(image) },
      sizeBytes: 0,
    };
  }

  async listImages(): Promise<ImageInfo[]> {
    const images = await Promise.all([...this.images].map((image) => this.inspectImage(image)));
    return images.filter((image): image is ImageInfo => image !== null);
  }

  async loadImage(tarball: NodeJS.ReadableStream): Promise<string[]> {
    this.checkReachable();
    const chunks: Buffer[] = [];
    for await (const chunk of tarball) chunks.push(Buffer.from(chunk as Buffer));
    let archive: FakeImageArchive;
    try {
      archive = JSON.parse(Buffer.concat(chunks).toString("utf8")) as FakeImageArchive;
    } catch {
      throw new ImageLoadError("unexpected EOF");
    }
    const tags = archive.kohakuriverFakeImage?.tags;
    if (!Array.isArray(tags)) throw new ImageLoadError("invalid tar header");
    for (const tag of tags) {
      this.images.add(tag);
      this.imageLabels.set(tag, { ...archive.kohakuriverFakeImage.labels });
    }
    this.loadCount += 1;
    return [...tags];
  }

  async pullImage(image: string, onProgress?: (progress: PullProgress) => void): Promise<void> {
    this.checkReachable();
    if (!this.registryImages.has(image)) {
      throw new ImagePullError(image, `pull access denied for ${image}, repository does not exist`);
    }
    onProgress?.({ status: "Downloading", downloadedBytes: 0, totalBytes: 1 });
    this.images.add(image);
    onProgress?.({ status: "Pull complete", downloadedBytes: 1, totalBytes: 1 });
  }

  async createContainer(spec: TaskContainerSpec): Promise<void> {
    this.checkReachable();
    if (this.containers.has(spec.name)) {
      throw new ContainerExistsError(spec.name);
    }
    if (!this.images.has(spec.image)) {
      throw new ImageNotFoundError(spec.image);
    }

    const behaviour = this.behaviours.get(spec.name) ?? this.behaviours.get(spec.image) ?? {};
    this.containers.set(spec.name, {
      id: randomBytes(32).toString("hex"),
      spec: structuredClone(spec),
      behaviour,
      status: "created",
      exitCode: null,
      oomKilled: false,
      startedAt: null,
      finishedAt: null,
      stdout: "",
      stderr: "",
      exitTimer: null,
      exitDueAt: 0,
      remainingMs: 0,
      exitWaiters: [],
      publishedPorts: {},
    });
  }

  async startContainer(name: string): Promise<void> {
    const container = this.get(name);
    if (container.status === "running") {
      // Docker returns 304 Not Modified, which DockerDriver treats as success.
      return;
    }
    if (container.status === "paused") {
      throw new DriverOperationError(`failed to start container ${name}: container is paused, unpause it instead`, 409);
    }

    // An exited container runs its behaviour again and keeps its earlier output, as with Docker.
    container.status = "running";
    container.exitCode = null;
    container.oomKilled = false;
    container.startedAt = new Date().toISOString();
    container.publishedPorts = Object.fromEntries(
      (container.spec.publishPorts ?? []).map((port) => [`${port}/tcp`, this.nextHostPort++]),
    );
    container.stdout += container.behaviour.stdout ?? "";
    container.stderr += container.behaviour.stderr ?? "";
    this.scheduleExit(container, container.behaviour.durationMs ?? 0);
  }

  async inspectContainer(name: string): Promise<ContainerState | null> {
    this.checkReachable();
    const container = this.containers.get(name);
    return container === undefined ? null : toState(container);
  }

  async captureLogs(name: string, files: LogFiles): Promise<void> {
    const container = this.get(name);
    await mkdir(dirname(files.stdoutPath), { recursive: true });
    await mkdir(dirname(files.stderrPath), { recursive: true });

    // Write what exists now, then everything again once the container stops, like a follow that ends.
    await writeFile(files.stdoutPath, container.stdout);
    await writeFile(files.stderrPath, container.stderr);
    if (container.status === "created") {
      return;
    }
    await this.untilExited(container);
    await writeFile(files.stdoutPath, container.stdout);
    await writeFile(files.stderrPath, container.stderr);
  }

  async waitContainer(name: string): Promise<number> {
    const container = this.get(name);
    await this.untilExited(container);
    return container.exitCode ?? 0;
  }

  async killContainer(name: string, signal = "SIGKILL"): Promise<void> {
    this.checkReachable();
    const container = this.containers.get(name);
    if (container === undefined || (container.status !== "running" && container.status !== "paused")) {
      return;
    }
    const number = signalNumber(signal);
    if (number === null) {
      throw new DriverOperationError(`failed to send ${signal} to container ${name}: invalid signal`, 400);
    }
    // NOTE: every signal ends the fake container with 128 + signal number. A real PID 1 without a handler
    // ignores SIGTERM and SIGINT, so Docker containers may keep running where the fake stops.
    this.exit(container, 128 + number, false);
  }

  async removeContainer(name: string): Promise<void> {
    this.checkReachable();
    const container = this.containers.get(name);
    if (container === undefined) {
      return;
    }
    if (container.status === "running" || container.status === "paused") {
      this.exit(container, 137, false);
    }
    this.containers.delete(name);
  }

  async pauseContainer(name: string): Promise<void> {
    const container = this.get(name);
    if (container.status === "paused") {
      return;
    }
    if (container.status !== "running") {
      throw new DriverOperationError(`failed to pause container ${name}: container is not running`, 409);
    }
    container.status = "paused";
    if (container.exitTimer !== null) {
      clearTimeout(container.exitTimer);
      container.exitTimer = null;
      container.remainingMs = Math.max(0, container.exitDueAt - Date.now());
    }
  }

  async unpauseContainer(name: string): Promise<void> {
    const container = this.get(name);
    if (container.status !== "paused") {
      return;
    }
    container.status = "running";
    this.scheduleExit(container, container.remainingMs);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerState[]> {
    this.checkReachable();
    const wanted = Object.entries(labels);
    return [...this.containers.values()]
      .filter((container) => wanted.every(([key, value]) => container.spec.labels[key] === value))
      .map(toState);
  }

  async readLogTail(name: string, lines: number): Promise<string> {
    const container = this.get(name);
    const text = container.stdout + container.stderr;
    const all = text.split("\n");
    if (all.at(-1) === "") all.pop();
    return all
      .slice(-lines)
      .map((line) => `${line}\n`)
      .join("");
  }

  async commitContainer(name: string, repository: string, tag: string, comment: string): Promise<void> {
    const container = this.get(name);
    const reference = `${repository}:${tag}`;
    this.images.add(reference);
    this.committed.set(reference, {
      reference,
      tag,
      created: Math.floor(Date.now() / 1000),
      sizeBytes: container.stdout.length + 1024,
      comment: comment === "" ? null : comment,
      source: name,
    });
  }

  async listRepositoryImages(repository: string): Promise<ImageSummary[]> {
    this.checkReachable();
    return [...this.committed.values()]
      .filter((image) => image.reference.slice(0, image.reference.lastIndexOf(":")) === repository)
      .map(({ source: _source, ...summary }) => summary)
      .sort((a, b) => b.created - a.created || b.tag.localeCompare(a.tag));
  }

  async removeImage(reference: string): Promise<void> {
    this.checkReachable();
    this.images.delete(reference);
    this.committed.delete(reference);
  }

  private scheduleExit(container: FakeContainer, delayMs: number): void {
    container.remainingMs = delayMs;
    if (!Number.isFinite(delayMs)) {
      return;
    }
    container.exitDueAt = Date.now() + delayMs;
    container.exitTimer = setTimeout(() => {
      container.exitTimer = null;
      const oom = container.behaviour.oom === true;
      container.stdout += container.behaviour.laterStdout ?? "";
      this.exit(container, oom ? 137 : (container.behaviour.exitCode ?? 0), oom);
    }, delayMs);
  }

  private exit(container: FakeContainer, exitCode: number, oomKilled: boolean): void {
    if (container.exitTimer !== null) {
      clearTimeout(container.exitTimer);
      container.exitTimer = null;
    }
    container.status = "exited";
    container.exitCode = exitCode;
    container.oomKilled = oomKilled;
    container.finishedAt = new Date().toISOString();
    for (const notify of container.exitWaiters.splice(0)) {
      notify();
    }
  }

  private untilExited(container: FakeContainer): Promise<void> {
    if (container.status === "exited" || container.status === "created") {
      return Promise.resolve();
    }
    return new Promise((resolve) => container.exitWaiters.push(resolve));
  }

  private get(name: string): FakeContainer {
    this.checkReachable();
    const container = this.containers.get(name);
    if (container === undefined) {
      throw new ContainerNotFoundError(name);
    }
    return container;
  }

  private checkReachable(): void {
    if (!this.reachable) {
      throw new EngineUnavailableError(SOCKET_PATH, { cause: new Error("connect ECONNREFUSED (simulated)") });
    }
  }
}

function signalNumber(signal: string): number | null {
  if (/^\d+$/.test(signal)) {
    return Number(signal);
  }
  const upper = signal.toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return (constants.signals as Record<string, number | undefined>)[name] ?? null;
}

function toState(container: FakeContainer): ContainerState {
  const alive = container.status === "running" || container.status === "paused";
  return {
    id: container.id,
    name: container.spec.name,
    image: container.spec.image,
    labels: { ...container.spec.labels },
    running: alive,
    paused: container.status === "paused",
    status: container.status,
    exitCode: container.exitCode,
    oomKilled: container.oomKilled,
    startedAt: container.startedAt,
    finishedAt: container.finishedAt,
    restartCount: 0,
    error: "",
    publishedPorts: alive ? { ...container.publishedPorts } : {},
  };
}
