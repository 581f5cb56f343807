/**
 * Environments on the host: `kohakuriver-env-{env}` setup containers that users prepare, and publishing
 * one as a tarball that runners load. All Docker work goes through the Engine API.
 */

import { cpus, totalmem } from "node:os";

import {
  ConflictError,
  InvalidInputError,
  KohakuRiverError,
  LABEL_ENVIRONMENT_TIMESTAMP,
  LABEL_MANAGED,
  NotFoundError,
  UnavailableError,
  environmentContainerName,
  environmentImageTag,
  environmentNameOfContainer,
  type EnvironmentContainer,
  type EnvironmentCreateResponse,
  type TarballCreateResponse,
} from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import Docker from "dockerode";

import { ImagePullError, engineReason, pullImage } from "./image-pull.js";
import type { TarballDirectory } from "./tarball-directory.js";

export interface EnvironmentServiceOptions {
  docker: Docker;
  tarballs: TarballDirectory;
  /** Fractions of the host's CPUs and memory that a setup container may use; outside (0, 1) no limit. */
  cpuFraction: number;
  memoryFraction: number;
  keepCount: number;
  logger: Logger;
}

/** Label naming the environment of a setup container. */
const LABEL_ENVIRONMENT = "kohakuriver.environment";

/** Socket errors that mean no engine listens. */
const UNREACHABLE_CODES = new Set(["ENOENT", "ECONNREFUSED", "EACCES", "EPERM"]);

export class EnvironmentService {
  /** Publications in progress per environment, so two create_tar calls for one environment run in turn. */
  private readonly publishing = new Map<string, Promise<unknown>>();

  constructor(private readonly options: EnvironmentServiceOptions) {}

  get tarballs(): TarballDirectory {
    return this.options.tarballs;
  }

  async listContainers(): Promise<EnvironmentContainer[]> {
    const summaries = await this.engine("list containers", () =>
      this.options.docker.listContainers({ all: true, filters: { name: ["kohakuriver-env-"] } }),
    );
    const result: EnvironmentContainer[] = [];
    for (const summary of summaries) {
      const name = (summary.Names[0] ?? "").replace(/^\//, "");
      const environment = environmentNameOfContainer(name);
      if (environment === null) continue;
      result.push({
        id: summary.Id.slice(0, 12),
        name,
        env_name: environment,
        image: await this.describeImage(summary.ImageID),
        status: summary.State,
        created: new Date(summary.Created * 1000).toISOString(),
      });
    }
    return result.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates and starts `kohakuriver-env-{env}` from an image, pulling the image when it is not present. */
  async createContainer(image: string, environment: string): Promise<EnvironmentCreateResponse> {
    const { docker, logger } = this.options;
    const name = environmentContainerName(environment);
    if ((await this.inspectContainer(name)) !== null) {
      throw new ConflictError(
        `environment container ${name} already exists; delete it first (kohakuriver docker container delete ${environment}) or choose another name`,
      );
    }

    if (!(await this.imageExists(image))) {
      logger.info({ image, environment }, "pulling image for an environment container");
      try {
        await pullImage(docker, image);
      } catch (error) {
        if (error instanceof ImagePullError) {
          throw new InvalidInputError(
            `image_name: ${error.message}. Check the image name, or build or load the image on the host first`,
            "image_name",
          );
        }
        throw error;
      }
    }

    const container = await this.engine(`create container ${name}`, () =>
      docker.createContainer({
        name,
        Image: image,
        Entrypoint: ["sleep"],
        Cmd: ["infinity"],
        Labels: { [LABEL_MANAGED]: "true", [LABEL_ENVIRONMENT]: environment },
        // The container only sleeps while users prepare it, so stopping it needs no grace period.
        StopSignal: "SIGKILL",
        HostConfig: this.resourceLimits(),
      }),
    );
    await this.engine(`start container ${name}`, () => container.start());
    logger.info({ image, environment, container: name }, "environment container created");
    return {
      message: `Environment container ${name} created from ${image}.`,
      container_id: container.id.slice(0, 12),
      container_name: name,
      env_name: environment,
      status: "running",
    };
  }

  async startContainer(environment: string): Promise<string> {
    const name = await this.requireContainer(environment);
    await this.engine(`start container ${name}`, async () => {
      try {
        await this.options.docker.getContainer(name).start();
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 304) throw error;
      }
    });
    return `Environment container ${name} started.`;
  }

  async stopContainer(environment: string): Promise<string> {
    const name = await this.requireContainer(environment);
    await this.stopIfRunning(name);
    return `Environment container ${name} stopped.`;
  }

  async deleteContainer(environment: string): Promise<string> {
    const name = await this.requireContainer(environment);
    await this.engine(`remove container ${name}`, () =>
      this.options.docker.getContainer(name).remove({ force: true, v: true }),
    );
    this.options.logger.info({ environment, container: name }, "environment container deleted");
    return `Environment container ${name} deleted.`;
  }

  /**
   * Renames a container from before the `kohakuriver-env-` prefix: commits it to `kohakuriver/{old}:base`,
   * creates `kohakuriver-env-{old}` from that image (not started) and removes the old container.
   */
  async migrateContainer(oldName: string): Promise<string> {
    const { docker, logger } = this.options;
    if (environmentNameOfContainer(oldName) !== null) {
      throw new InvalidInputError(
        `env_name: ${oldName} already has the kohakuriver-env- prefix; give the old name without it`,
        "env_name",
      );
    }
    if ((await this.inspectContainer(oldName)) === null) throw new NotFoundError(`container ${oldName} not found`);
    const newName = environmentContainerName(oldName);
    if ((await this.inspectContainer(newName)) !== null) {
      throw new ConflictError(`container ${newName} already exists; delete it or migrate under another name`);
    }

    await this.stopIfRunning(oldName);
    const [repository, tag] = splitTag(environmentImageTag(oldName));
    await this.engine(`commit container ${oldName}`, () =>
      docker.getContainer(oldName).commit({ repo: repository, tag }),
    );
    await this.engine(`create container ${newName}`, () =>
      docker.createContainer({
        name: newName,
        Image: environmentImageTag(oldName),
        Entrypoint: ["sleep"],
        Cmd: ["infinity"],
        Labels: { [LABEL_MANAGED]: "true", [LABEL_ENVIRONMENT]: oldName },
        StopSignal: "SIGKILL",
        HostConfig: this.resourceLimits(),
      }),
    );
    await this.engine(`remove container ${oldName}`, () => docker.getContainer(oldName).remove({ force: true }));
    logger.info({ from: oldName, to: newName }, "environment container migrated");
    return `Container ${oldName} migrated to ${newName}; start it with kohakuriver docker container start ${oldName}.`;
  }

  /**
   * Commits the environment container to `kohakuriver/{env}:base`, stamped with the new tarball's timestamp,
   * saves the image to `{env}-{ts}.tar` and deletes versions beyond the configured count. A running
   * container is stopped for the commit and started again afterwards.
   */
  async publish(environment: string): Promise<TarballCreateResponse> {
    const key = environment.toLowerCase();
    const previous = this.publishing.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.publishNow(environment));
    this.publishing.set(key, run);
    try {
      return await run;
    } finally {
      if (this.publishing.get(key) === run) this.publishing.delete(key);
    }
  }

  private async publishNow(environment: string): Promise<TarballCreateResponse> {
    const { docker, tarballs, keepCount, logger } = this.options;
    const name = await this.requireContainer(environment);
    const state = await this.inspectContainer(name);
    const wasRunning = state?.State.Running === true;
    const timestamp = await tarballs.nextTimestamp(environment);
    const tag = environmentImageTag(environment);
    const [repository, version] = splitTag(tag);
    const oldImageId = await this.imageId(tag);

    await this.stopIfRunning(name);
    try {
      await this.engine(`commit container ${name}`, () =>
        docker.getContainer(name).commit({
          repo: repository,
          tag: version,
          changes: `LABEL ${LABEL_ENVIRONMENT_TIMESTAMP}=${timestamp}`,
        }),
      );
    } finally {
      if (wasRunning)
        await docker
          .getContainer(name)
          .start()
          .catch(() => undefined);
    }

    const imageStream = await this.engine(`save image ${tag}`, () => docker.getImage(tag).get());
    const written = await tarballs.write(environment, timestamp, imageStream as NodeJS.ReadableStream as never);
    const pruned = await tarballs.prune(environment, keepCount);
    if (oldImageId !== null && oldImageId !== (await this.imageId(tag))) {
      // The previous commit has lost its tag; the engine refuses to remove it while a container uses it.
      await docker
        .getImage(oldImageId)
        .remove()
        .catch(() => undefined);
    }
    logger.info(
      { environment, tarball: written.path, sizeBytes: written.sizeBytes, pruned },
      "environment tarball published",
    );
    return {
      message: `Environment ${environment} published as ${written.fileName}.`,
      tarball_path: written.path,
      env_name: environment,
      timestamp,
      size_bytes: written.sizeBytes,
    };
  }

  /** Pulls an image; rejects with ImagePullError carrying Docker's reason. */
  async pull(image: string): Promise<void> {
    await pullImage(this.options.docker, image);
  }

  async imageExists(image: string): Promise<boolean> {
    return (await this.imageId(image)) !== null;
  }

  private async imageId(image: string): Promise<string | null> {
    try {
      return (await this.options.docker.getImage(image).inspect()).Id;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw this.wrap(error, `inspect image ${image}`);
    }
  }

  private async inspectContainer(name: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      const info = await this.options.docker.getContainer(name).inspect();
      // The engine also finds a container by an id prefix; only the exact name counts here.
      return info.Name.replace(/^\//, "") === name ? info : null;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw this.wrap(error, `inspect container ${name}`);
    }
  }

  private async requireContainer(environment: string): Promise<string> {
    const name = environmentContainerName(environment);
    if ((await this.inspectContainer(name)) === null) {
      throw new NotFoundError(
        `environment container ${name} not found; create it with: kohakuriver docker container create IMAGE ${environment}`,
      );
    }
    return name;
  }

  private async stopIfRunning(name: string): Promise<void> {
    await this.engine(`stop container ${name}`, async () => {
      try {
        await this.options.docker.getContainer(name).stop({ t: 10 });
      } catch (error) {
        // 304: already stopped.
        if ((error as { statusCode?: number }).statusCode !== 304) throw error;
      }
    });
  }

  private resourceLimits(): Docker.HostConfig {
    const { cpuFraction, memoryFraction } = this.options;
    const limits: Docker.HostConfig = {};
    if (cpuFraction > 0 && cpuFraction < 1) limits.NanoCpus = Math.floor(cpus().length * cpuFraction * 1e9);
    if (memoryFraction > 0 && memoryFraction < 1) limits.Memory = Math.floor(totalmem() * memoryFraction);
    return limits;
  }

  private async describeImage(imageId: string): Promise<string> {
    try {
      const info = await this.options.docker.getImage(imageId).inspect();
      return info.RepoTags?.[0] ?? info.Id.replace(/^sha256:/, "").slice(0, 12);
    } catch {
      return "<missing>";
    }
  }

  private async engine<T>(action: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.wrap(error, action);
    }
  }

  private wrap(error: unknown, action: string): Error {
    if (error instanceof KohakuRiverError) return error;
    const code = (error as { code?: string }).code;
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new UnavailableError(
        `the host's Docker Engine is not reachable (${code}); start dockerd or set DOCKER_SOCKET in host.toml`,
        error,
      );
    }
    const statusCode = (error as { statusCode?: number }).statusCode;
    if (statusCode === 409) return new ConflictError(`failed to ${action}: ${engineReason(error)}`);
    if (statusCode === 404) return new NotFoundError(`failed to ${action}: ${engineReason(error)}`);
    return new UnavailableError(`failed to ${action}: ${engineReason(error)}`, error);
  }
}

function splitTag(reference: string): [string, string] {
  const index = reference.lastIndexOf(":");
  return [reference.slice(0, index), reference.slice(index + 1)];
}
