/** Names on disk and in Docker that existing tools, images and scripts depend on; keep them unchanged. */

export const LABEL_TASK_ID = "kohakuriver.task_id";
export const LABEL_TASK_TYPE = "kohakuriver.task_type";
export const LABEL_NODE = "kohakuriver.node";

export function taskContainerName(taskId: string): string {
  return `kohakuriver-task-${taskId}`;
}

export function vpsContainerName(taskId: string): string {
  return `kohakuriver-vps-${taskId}`;
}

/** Image repository of a VPS's snapshots; each snapshot is tagged with its Unix timestamp in seconds. */
export function snapshotRepository(taskId: string): string {
  return `kohakuriver-snapshot/vps-${taskId}`;
}

/** Image tag of an environment: `kohakuriver/{env}:base`. */
export function environmentImageTag(environmentName: string): string {
  return `kohakuriver/${environmentName.toLowerCase()}:base`;
}

/** Relative path of a task's log file under SHARED_DIR: `logs/{task_id}/stdout.log`. */
export function taskLogRelativePath(taskId: string, stream: "stdout" | "stderr"): string {
  return `logs/${taskId}/${stream}.log`;
}

/** Label that marks images, containers and networks created by KohakuRiver. */
export const LABEL_MANAGED = "kohakuriver.managed";

/**
 * Image label with the Unix time (seconds) of the tarball an environment image was published in. Runners
 * compare it with the newest tarball's timestamp to decide whether to load.
 */
export const LABEL_ENVIRONMENT_TIMESTAMP = "kohakuriver.environment_timestamp";

const ENVIRONMENT_CONTAINER_PREFIX = "kohakuriver-env-";

/** Name of an environment's setup container on the host: `kohakuriver-env-{env}`. */
export function environmentContainerName(environmentName: string): string {
  return `${ENVIRONMENT_CONTAINER_PREFIX}${environmentName}`;
}

/** Returns the environment name of a `kohakuriver-env-{env}` container name, or null for other names. */
export function environmentNameOfContainer(containerName: string): string | null {
  const name = containerName.replace(/^\//, "");
  return name.startsWith(ENVIRONMENT_CONTAINER_PREFIX) ? name.slice(ENVIRONMENT_CONTAINER_PREFIX.length) : null;
}

/** Directory of environment tarballs under SHARED_DIR. */
export const TARBALL_DIRECTORY = "kohakuriver-containers";

/** File name of an environment tarball: `{env}-{unix_ts}.tar`. */
export function tarballFileName(environmentName: string, timestamp: number): string {
  return `${environmentName.toLowerCase()}-${timestamp}.tar`;
}

/**
 * Splits `{env}-{unix_ts}.tar` into its parts, or returns null for other file names. The timestamp has at
 * least 10 digits, as in the original, so an environment name ending in `-2` is not mistaken for one.
 */
export function parseTarballFileName(fileName: string): { environment: string; timestamp: number } | null {
  const match = /^(.+)-(\d{10,})\.tar$/.exec(fileName);
  if (match === null) return null;
  return { environment: match[1] as string, timestamp: Number(match[2]) };
}

/**
 * Environment names: letters and digits, with single '.', '_' or '-' between them, so that the name is
 * valid in a container name, an image repository (after lower-casing) and a file name. At most 128
 * characters, checked separately.
 */
export const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
export const ENVIRONMENT_NAME_MAX_LENGTH = 128;

/** Returns null for a valid environment name, else what is wrong with it. */
export function environmentNameProblem(name: string): string | null {
  if (name.length > ENVIRONMENT_NAME_MAX_LENGTH) return `is longer than ${ENVIRONMENT_NAME_MAX_LENGTH} characters`;
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) {
    return "is not a valid environment name: use letters and digits with single '.', '_' or '-' between them, such as my-env";
  }
  return null;
}
