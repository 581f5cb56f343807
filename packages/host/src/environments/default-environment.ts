/**
 * Prepares the default environment (DEFAULT_CONTAINER_NAME) at host start when it has no tarball yet, so
 * that tasks submitted without `--container` have something to run in.
 */

import { environmentContainerName, environmentImageTag } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";

import type { EnvironmentService } from "./environment-service.js";

/** The image that scripts/build-base-image.sh builds without a registry. */
export const LOCAL_BASE_IMAGE = "kohakuriver/kohakuriver-base:base";

export interface DefaultEnvironmentOptions {
  environments: EnvironmentService;
  environment: string;
  initialImage: string;
  logger: Logger;
}

/**
 * Publishes the default environment unless a tarball of it exists. The image is, in order: an existing
 * `kohakuriver-env-{env}` container; INITIAL_BASE_IMAGE (pulled when missing); the environment's own
 * image tag; the locally built base image. Failures are logged and not thrown, so the host runs without the environment.
 */
export async function bootstrapDefaultEnvironment(options: DefaultEnvironmentOptions): Promise<void> {
  const { environments, environment, initialImage, logger } = options;
  try {
    await environments.tarballs.ensureExists();
    if ((await environments.tarballs.versions(environment)).length > 0) return;

    const containerName = environmentContainerName(environment);
    const existing = (await environments.listContainers()).some((container) => container.name === containerName);
    if (!existing) {
      const image = await chooseImage(options);
      if (image === null) {
        logger.warn(
          { environment, initialImage },
          "no image for the default environment: INITIAL_BASE_IMAGE cannot be pulled and no local base image " +
            "exists; run scripts/build-base-image.sh on the host and restart it",
        );
        return;
      }
      await environments.createContainer(image, environment);
    }
    const published = await environments.publish(environment);
    logger.info({ environment, tarball: published.tarball_path }, "default environment published");
  } catch (error) {
    logger.warn({ err: error, environment }, "default environment could not be prepared");
  }
}

async function chooseImage(options: DefaultEnvironmentOptions): Promise<string | null> {
  const { environments, initialImage, environment, logger } = options;
  if (await environments.imageExists(initialImage)) return initialImage;
  try {
    await environments.pull(initialImage);
    return initialImage;
  } catch (error) {
    logger.warn({ image: initialImage, reason: (error as Error).message }, "INITIAL_BASE_IMAGE cannot be pulled");
  }
  for (const candidate of [environmentImageTag(environment), LOCAL_BASE_IMAGE]) {
    if (await environments.imageExists(candidate)) return candidate;
  }
  return null;
}
