/** Makes a workload's image present on the node before its container is created. */

import type { WorkloadDriver } from "../driver/types.js";
import type { EnvironmentSync } from "./environment-sync.js";

export interface ImageRequest {
  /** The registry image to run, or null for an environment. */
  registry_image: string | null;
  /** The image reference the container is created from. */
  docker_image_name: string;
  /** The environment name, or null for a registry image. */
  container_name: string | null;
}

/**
 * Loads the newest tarball of the environment when it is newer than the local image, or pulls a registry
 * image that is missing. Progress messages go to `progress`. Raises ImagePullError or EnvironmentSyncError
 * with the reason when the image cannot be made present.
 */
export async function prepareImage(
  driver: WorkloadDriver,
  environments: EnvironmentSync | undefined,
  request: ImageRequest,
  progress: (message: string) => void,
): Promise<void> {
  if (request.registry_image !== null) {
    const image = request.docker_image_name;
    if (await driver.imageExists(image)) return;
    progress(`Pulling image ${image}`);
    await driver.pullImage(image, (pull) =>
      progress(
        pull.totalBytes > 0
          ? `Pulling image ${image}: ${pull.status}, ${Math.floor((pull.downloadedBytes / pull.totalBytes) * 100)}% of the layers in progress`
          : `Pulling image ${image}: ${pull.status}`,
      ),
    );
  } else if (request.container_name !== null && environments !== undefined) {
    await environments.ensure(request.container_name, progress);
  }
}
