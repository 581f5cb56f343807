/**
 * Finds a running environment container on the host for the terminal and the file API. Only environment
 * containers (`kohakuriver-env-{env}`) are reachable this way, never other containers of the host's Engine.
 */

import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  environmentContainerName,
  environmentNameOfContainer,
  environmentNameProblem,
} from "@kohakuriver/api";
import type Docker from "dockerode";

export interface EnvironmentContainer {
  environment: string;
  name: string;
  container: Docker.Container;
}

/** Accepts an environment name (`myenv`) or its container name (`kohakuriver-env-myenv`). */
export async function resolveRunningEnvironmentContainer(docker: Docker, given: string): Promise<EnvironmentContainer> {
  const environment = environmentNameOfContainer(given) ?? given;
  const problem = environmentNameProblem(environment);
  if (problem !== null) throw new InvalidInputError(`container_name: ${problem}`, "container_name");
  const name = environmentContainerName(environment);
  const container = docker.getContainer(name);
  let info: Docker.ContainerInspectInfo;
  try {
    info = await container.inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      throw new NotFoundError(
        `environment container ${name} not found; list them with 'kohakuriver docker container list'`,
      );
    }
    throw error;
  }
  if (!info.State.Running || info.State.Paused) {
    throw new ConflictError(
      `environment container ${name} is not running; start it with 'kohakuriver docker container start ${environment}'`,
    );
  }
  return { environment, name, container };
}
