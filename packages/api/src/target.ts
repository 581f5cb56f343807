/**
 * Task targets in the form `host[:numa][::gpu,gpu]`.
 *
 * Examples: `node1`, `node1:0` (NUMA node 0), `node1::0,1` (GPUs 0 and 1), `node1:1::2` (NUMA node 1 and GPU 2).
 */

import { InvalidInputError } from "./errors.js";

export interface Target {
  hostname: string;
  numaNodeId: number | null;
  gpuIds: number[] | null;
}

const HOSTNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const INDEX_PATTERN = /^\d{1,4}$/;

/**
 * Parses one target string.
 *
 * @throws InvalidInputError naming `field` when the syntax is wrong.
 */
export function parseTarget(text: string, field = "targets"): Target {
  const usage = "expected host[:numa][::gpu,gpu], for example node1, node1:0 or node1::0,1";
  const [main = "", gpuPart, ...extra] = text.split("::");
  if (extra.length > 0) {
    throw new InvalidInputError(`${field}: invalid target '${text}': '::' may appear only once (${usage})`, field);
  }

  const [hostname = "", numaPart, ...moreColons] = main.split(":");
  if (moreColons.length > 0) {
    throw new InvalidInputError(`${field}: invalid target '${text}' (${usage})`, field);
  }
  if (!HOSTNAME_PATTERN.test(hostname)) {
    throw new InvalidInputError(`${field}: invalid host name in target '${text}' (${usage})`, field);
  }

  let numaNodeId: number | null = null;
  if (numaPart !== undefined) {
    if (!INDEX_PATTERN.test(numaPart)) {
      throw new InvalidInputError(
        `${field}: invalid NUMA node '${numaPart}' in target '${text}': it must be a non-negative integer (${usage})`,
        field,
      );
    }
    numaNodeId = Number(numaPart);
  }

  let gpuIds: number[] | null = null;
  if (gpuPart !== undefined) {
    const items = gpuPart.split(",");
    if (items.some((item) => !INDEX_PATTERN.test(item))) {
      throw new InvalidInputError(
        `${field}: invalid GPU list '${gpuPart}' in target '${text}': use comma-separated GPU indices such as 0,1 (${usage})`,
        field,
      );
    }
    gpuIds = [...new Set(items.map(Number))];
  }

  return { hostname, numaNodeId, gpuIds };
}

/** Formats a target back into its string form. */
export function formatTarget(target: Target): string {
  let text = target.hostname;
  if (target.numaNodeId !== null) text += `:${target.numaNodeId}`;
  if (target.gpuIds !== null && target.gpuIds.length > 0) text += `::${target.gpuIds.join(",")}`;
  return text;
}
