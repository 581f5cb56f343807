/**
 * Turns a validated POST /api/submit body into task records, or rejects it with a 400 that names the field.
 * Nothing is stored here: the caller inserts all records in one transaction, so a submission with one bad
 * target stores nothing.
 */

import { join } from "node:path";

import {
  InvalidInputError,
  environmentImageTag,
  formatBytes,
  parseTarget,
  taskLogRelativePath,
  type ParsedTaskSubmission,
  type Target,
} from "@kohakuriver/api";

import type { HostConfig } from "../config.js";
import type { NodeCapacity, ResourceLedger, ResourceRequest } from "../scheduler/ledger.js";
import { countOf, formatCores } from "../scheduler/ledger.js";
import type { TaskRecord } from "../store/types.js";

/** The smallest memory limit the Docker Engine accepts for a container (6 MiB). */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const IMAGE_REFERENCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,499}$/;

export interface SubmissionContext {
  config: HostConfig;
  ledger: ResourceLedger;
  nextTaskId: () => string;
  now: () => Date;
}

export function buildTaskRecords(submission: ParsedTaskSubmission, context: SubmissionContext): TaskRecord[] {
  if (submission.task_type === "vps") {
    throw new InvalidInputError(
      "task_type: VPS sessions are created with POST /api/vps/create, not /api/submit",
      "task_type",
    );
  }
  if (submission.command.trim() === "") {
    throw new InvalidInputError(
      "command: must not be empty; give the program to run, for example 'python train.py'",
      "command",
    );
  }

  const memory = submission.required_memory_bytes;
  if (memory !== null && memory > 0 && memory < MIN_MEMORY_BYTES) {
    throw new InvalidInputError(
      `required_memory_bytes: ${formatBytes(memory)} is below Docker's minimum memory limit of 6 MiB (${MIN_MEMORY_BYTES} bytes); ` +
        "ask for 7M or more, or 0 for no limit",
      "required_memory_bytes",
    );
  }

  const image = resolveImage(submission, context.config);
  const mounts = validateMounts(submission.additional_mounts ?? context.config.ADDITIONAL_MOUNTS);
  const targets = (submission.targets ?? []).map((text) => parseTarget(text, "targets"));
  const gpuLists = resolveGpuLists(submission, targets);

  if (submission.required_gpu_count > 0 && gpuLists.some((list) => list.length > 0)) {
    throw new InvalidInputError(
      "required_gpu_count: give either a GPU count or GPU indices in the target (host::0,1), not both",
      "required_gpu_count",
    );
  }

  const baseRequest = {
    cores: submission.required_cores,
    memoryBytes: submission.required_memory_bytes,
    gpuCount: submission.required_gpu_count,
  };
  const slots: Array<{ target: Target | null; request: ResourceRequest }> =
    targets.length === 0
      ? [{ target: null, request: { ...baseRequest, gpuIds: [], numaNodeId: null } }]
      : targets.map((target, index) => ({
          target,
          request: { ...baseRequest, gpuIds: gpuLists[index] ?? [], numaNodeId: target.numaNodeId },
        }));

  for (const slot of slots) checkCanEverFit(slot.target, slot.request, context.ledger);

  const submittedAt = context.now().toISOString();
  const records: TaskRecord[] = [];
  for (const slot of slots) {
    const taskId = context.nextTaskId();
    records.push({
      task_id: taskId,
      task_type: "command",
      batch_id: records[0]?.task_id ?? taskId,
      name: submission.name,
      command: submission.command,
      arguments: submission.arguments,
      shell: submission.shell,
      env_vars: submission.env_vars,
      required_cores: submission.required_cores,
      required_gpus: slot.request.gpuIds,
      required_gpu_count: submission.required_gpu_count,
      required_memory_bytes: submission.required_memory_bytes,
      target_node: slot.target?.hostname ?? null,
      target_numa_node_id: slot.target?.numaNodeId ?? null,
      owner_id: null,
      approval_status: null,
      approved_by_id: null,
      approved_at: null,
      rejection_reason: null,
      status: "pending",
      assigned_node: null,
      assignment_suspicion_count: 0,
      container_name: image.environment,
      registry_image: image.registryImage,
      docker_image_name: image.tag,
      docker_privileged: submission.privileged ?? context.config.TASKS_PRIVILEGED,
      docker_mount_dirs: mounts,
      ssh_port: null,
      vps_backend: "docker",
      vm_image: null,
      vm_disk_size: null,
      vm_ip: null,
      stdout_path: join(context.config.SHARED_DIR, taskLogRelativePath(taskId, "stdout")),
      stderr_path: join(context.config.SHARED_DIR, taskLogRelativePath(taskId, "stderr")),
      exit_code: null,
      error_message: null,
      submitted_at: submittedAt,
      started_at: null,
      completed_at: null,
      dispatch_confirmed: false,
      ssh_key_mode: null,
      ssh_public_key: null,
      generation: 0,
      vps_restore_snapshot: null,
    });
  }
  return records;
}

export function resolveImage(
  submission: Pick<ParsedTaskSubmission, "registry_image" | "container_name">,
  config: HostConfig,
): { environment: string | null; registryImage: string | null; tag: string } {
  if (submission.registry_image !== null) {
    if (submission.container_name !== null) {
      throw new InvalidInputError(
        "container_name: give either an environment (container_name) or a registry image (registry_image), not both",
        "container_name",
      );
    }
    if (!IMAGE_REFERENCE_PATTERN.test(submission.registry_image)) {
      throw new InvalidInputError(
        `registry_image: '${submission.registry_image}' is not an image reference such as ubuntu:22.04 or ghcr.io/org/image:tag`,
        "registry_image",
      );
    }
    // Docker accepts upper case only in the tag: the part after the last ':' that follows the last '/'.
    const repository = submission.registry_image.split("@")[0]?.replace(/:[^/:]*$/, "") ?? "";
    if (/[A-Z]/.test(repository)) {
      throw new InvalidInputError(
        `registry_image: '${submission.registry_image}' has upper-case letters in its repository name, which Docker rejects; write it in lower case`,
        "registry_image",
      );
    }
    return { environment: null, registryImage: submission.registry_image, tag: submission.registry_image };
  }

  const environment = submission.container_name ?? config.DEFAULT_CONTAINER_NAME;
  if (environment === "NULL") {
    throw new InvalidInputError(
      "container_name: 'NULL' (no environment) needs a registry_image to run",
      "container_name",
    );
  }
  if (!ENVIRONMENT_NAME_PATTERN.test(environment)) {
    throw new InvalidInputError(
      `container_name: '${environment}' is not a valid environment name (letters, digits, '.', '_' and '-')`,
      "container_name",
    );
  }
  return { environment, registryImage: null, tag: environmentImageTag(environment) };
}

/** Returns one GPU index list per target, from `required_gpus` or from `host::0,1` in the target string. */
function resolveGpuLists(submission: ParsedTaskSubmission, targets: Target[]): number[][] {
  const fromTargets = targets.map((target) => target.gpuIds ?? []);
  if (submission.required_gpus === null) return fromTargets;

  if (targets.length === 0) {
    throw new InvalidInputError(
      "required_gpus: GPU indices need a target node; use required_gpu_count for automatic placement",
      "required_gpus",
    );
  }
  if (submission.required_gpus.length !== targets.length) {
    throw new InvalidInputError(
      `required_gpus: expected one GPU list per target (${targets.length}), got ${submission.required_gpus.length}`,
      "required_gpus",
    );
  }
  return submission.required_gpus.map((list, index) => {
    const inTarget = fromTargets[index] ?? [];
    if (list.length > 0 && inTarget.length > 0) {
      throw new InvalidInputError(
        `required_gpus: target '${submission.targets?.[index]}' already names GPUs; give them in one place only`,
        "required_gpus",
      );
    }
    return list.length > 0 ? [...new Set(list)] : inTarget;
  });
}

// Docker bind mounts take `ro` or `rw`; anything else would only fail when the container is created.
const MOUNT_PATTERN = /^(\/[^:\0]*):(\/[^:\0]*)(?::(ro|rw))?$/;

export function validateMounts(mounts: readonly string[]): string[] {
  for (const mount of mounts) {
    if (!MOUNT_PATTERN.test(mount)) {
      throw new InvalidInputError(
        `additional_mounts: '${mount}' is not a mount; use /host/path:/container/path with :ro or :rw at most`,
        "additional_mounts",
      );
    }
  }
  return [...mounts];
}

/** Rejects a request that no node could ever hold, naming the capacity that is short. */
export function checkCanEverFit(
  target: Target | null,
  request: ResourceRequest,
  ledger: ResourceLedger,
  targetField = "targets",
): void {
  const nodes = ledger.listNodes().map((node) => node.capacity);

  if (target !== null) {
    const node = nodes.find((capacity) => capacity.hostname === target.hostname);
    if (node === undefined) {
      const known = nodes.map((capacity) => capacity.hostname).sort();
      const list = known.length === 0 ? "no nodes are registered yet" : `registered nodes: ${known.join(", ")}`;
      throw new InvalidInputError(`${targetField}: unknown node '${target.hostname}' (${list})`, targetField);
    }
    const shortfall = ledger.neverFitsReason(node, request);
    if (shortfall !== null) throw new InvalidInputError(`${shortfall.field}: ${shortfall.reason}`, shortfall.field);
    return;
  }

  // With no node registered yet the task waits; capacity can only be judged once a runner has joined.
  if (nodes.length === 0) return;
  if (nodes.some((node) => ledger.neverFitsReason(node, request) === null)) return;

  const largest = [...nodes].sort(
    (a, b) => b.totalCores - a.totalCores || (b.memoryBytes ?? 0) - (a.memoryBytes ?? 0),
  )[0];
  const shortfall = ledger.neverFitsReason(largest as NodeCapacity, request);
  const field = shortfall?.field ?? "required_cores";
  throw new InvalidInputError(
    `${field}: no node can ever hold this task (${shortfall?.reason ?? "too large"}); ` +
      `the largest node is ${describeCapacity(largest as NodeCapacity)}`,
    field,
  );
}

function describeCapacity(capacity: NodeCapacity): string {
  const memory = capacity.memoryBytes === null ? "unknown memory" : `${formatBytes(capacity.memoryBytes)} memory`;
  return `${capacity.hostname} with ${formatCores(capacity.totalCores)}, ${memory} and ${countOf(capacity.gpuIds.length, "GPU")}`;
}
