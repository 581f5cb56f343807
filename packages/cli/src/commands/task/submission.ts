/** Turns the options and command words of `task submit` into the body of POST /api/submit. */

import { KohakuRiverError, parseMemorySize, parseTarget, type TaskSubmission } from "@kohakuriver/api";

import { UsageError } from "../../errors.js";
import { parseInteger, parseNonNegativeNumber } from "../../options.js";

export interface SubmitOptions {
  target?: string[];
  cores?: string;
  /** Docker's name for --cores, accepted as an alias. */
  cpus?: string;
  memory?: string;
  gpus?: string;
  container?: string;
  image?: string;
  privileged?: boolean;
  mount?: string[];
  env?: string[];
  name?: string;
}

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Builds the submission body. The command runs in exec form (`shell: false`): the first word is the
 * program and the rest are its arguments, passed without a shell, so they need no quoting.
 *
 * @throws UsageError naming the option whose value is invalid.
 */
export function buildSubmission(options: SubmitOptions, commandWords: string[]): TaskSubmission {
  const [program, ...programArguments] = commandWords;
  if (program === undefined || program === "") {
    throw new UsageError("missing command: put it after --, for example: kohakuriver task submit -- echo hello");
  }
  if (options.image !== undefined && options.container !== undefined) {
    throw new UsageError(
      "--image and --container cannot be used together: --image runs a registry image, --container a prepared environment",
    );
  }

  const submission: TaskSubmission = {
    task_type: "command",
    command: program,
    arguments: programArguments,
    shell: false,
    required_cores: parseCoresOption(options),
  };

  const targets = (options.target ?? []).map(parseTargetOption);
  if (targets.length > 0) {
    submission.targets = targets.map((target) => target.text);
    if (targets.some((target) => target.gpuIds.length > 0)) {
      submission.required_gpus = targets.map((target) => target.gpuIds);
    }
  }

  if (options.gpus !== undefined) {
    const count = parseInteger(options.gpus, "--gpus", 0, "GPUs");
    if (count > 0 && submission.required_gpus !== undefined) {
      throw new UsageError(
        "--gpus cannot be combined with GPU indices in --target: use either --gpus N or -t host::0,1",
      );
    }
    submission.required_gpu_count = count;
  }

  if (options.memory !== undefined) submission.required_memory_bytes = parseMemoryOption(options.memory);
  if (options.container !== undefined) submission.container_name = options.container;
  if (options.image !== undefined) submission.registry_image = options.image;
  if (options.privileged === true) submission.privileged = true;
  if (options.mount !== undefined && options.mount.length > 0) submission.additional_mounts = options.mount;
  if (options.env !== undefined && options.env.length > 0) submission.env_vars = parseEnvOptions(options.env);
  if (options.name !== undefined) submission.name = options.name;

  return submission;
}

/** Reads --cores, or its alias --cpus, defaulting to 1 core. */
function parseCoresOption(options: Pick<SubmitOptions, "cores" | "cpus">): number {
  if (options.cores !== undefined && options.cpus !== undefined) {
    throw new UsageError("--cores and --cpus cannot be used together: --cpus is another name for --cores");
  }
  if (options.cores !== undefined) return parseNonNegativeNumber(options.cores, "--cores", "cores");
  if (options.cpus !== undefined) return parseNonNegativeNumber(options.cpus, "--cpus", "cores");
  return 1;
}

interface ParsedTargetOption {
  /** The target as the API expects it: `host` or `host:numa`, without GPU indices. */
  text: string;
  gpuIds: number[];
}

function parseTargetOption(text: string): ParsedTargetOption {
  let target;
  try {
    target = parseTarget(text, "--target");
  } catch (error) {
    if (error instanceof KohakuRiverError) throw new UsageError(error.message);
    throw error;
  }

  const hostAndNuma = target.numaNodeId === null ? target.hostname : `${target.hostname}:${target.numaNodeId}`;
  return { text: hostAndNuma, gpuIds: target.gpuIds ?? [] };
}

function parseMemoryOption(text: string): number {
  const bytes = parseMemorySize(text);
  if (bytes === null) {
    throw new UsageError(`invalid memory size '${text}' for --memory: use a number with K, M or G, such as 512M or 4G`);
  }
  return bytes;
}

function parseEnvOptions(items: string[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const item of items) {
    const separator = item.indexOf("=");
    const key = separator === -1 ? item : item.slice(0, separator);
    if (separator === -1 || !ENV_NAME_PATTERN.test(key)) {
      throw new UsageError(
        `invalid value '${item}' for --env: use KEY=VALUE with a name of letters, digits and underscores, such as -e SEED=42`,
      );
    }
    variables[key] = item.slice(separator + 1);
  }
  return variables;
}
