/**
 * One scheduling pass over the queue of pending tasks, oldest first.
 *
 * A task goes to the schedulable node with the most free cores among those where it fits now (its target
 * node, when it names one). A task that fits nowhere keeps its place: every node where it could fit once
 * that node is idle is reserved for it for the rest of the pass, so younger tasks never overtake it there
 * and it cannot starve. Nodes it could never use stay open to the tasks behind it.
 */

import type { ResourceLedger, ResourceRequest, NodeLedgerEntry } from "./ledger.js";

export interface QueuedTask {
  taskId: string;
  targetNode: string | null;
  request: ResourceRequest;
}

export interface Placement {
  taskId: string;
  hostname: string;
  gpuIds: number[];
  cores: number;
  memoryBytes: number;
}

/**
 * Places as many queued tasks as fit, in order, and records each placement in the ledger before looking
 * at the next task. The caller persists the placements and releases any it cannot persist.
 */
export function placeQueuedTasks(queue: Iterable<QueuedTask>, ledger: ResourceLedger): Placement[] {
  const placements: Placement[] = [];
  const reserved = new Set<string>();
  const schedulable = ledger.listNodes().filter((node) => node.schedulable);
  if (schedulable.length === 0) return placements;

  for (const task of queue) {
    if (reserved.size >= schedulable.length) break;

    const candidates =
      task.targetNode === null ? schedulable : schedulable.filter((node) => node.capacity.hostname === task.targetNode);
    const choice = chooseNode(candidates, reserved, task.request, ledger);

    if (choice === null) {
      for (const node of candidates) {
        if (ledger.neverFitsReason(node.capacity, task.request) === null) reserved.add(node.capacity.hostname);
      }
      continue;
    }

    const placement: Placement = {
      taskId: task.taskId,
      hostname: choice.node.capacity.hostname,
      gpuIds: choice.gpuIds,
      cores: task.request.cores,
      memoryBytes: task.request.memoryBytes ?? 0,
    };
    ledger.allocate({
      taskId: placement.taskId,
      hostname: placement.hostname,
      cores: placement.cores,
      memoryBytes: placement.memoryBytes,
      gpuIds: placement.gpuIds,
    });
    placements.push(placement);
  }
  return placements;
}

function chooseNode(
  candidates: readonly NodeLedgerEntry[],
  reserved: ReadonlySet<string>,
  request: ResourceRequest,
  ledger: ResourceLedger,
): { node: NodeLedgerEntry; gpuIds: number[] } | null {
  let best: { node: NodeLedgerEntry; gpuIds: number[]; freeCores: number } | null = null;

  for (const node of candidates) {
    if (reserved.has(node.capacity.hostname)) continue;
    // Free-resource checks assume the GPUs and the NUMA node exist there; check that first when they are named.
    const namesHardware = request.numaNodeId !== null || request.gpuIds.length > 0;
    if (namesHardware && ledger.neverFitsReason(node.capacity, request) !== null) continue;

    const fit = ledger.fitsNow(node, request);
    if (!fit.fits) continue;

    const freeCores = node.capacity.totalCores - node.usedCores;
    const better =
      best === null ||
      freeCores > best.freeCores ||
      (freeCores === best.freeCores && node.capacity.hostname < best.node.capacity.hostname);
    if (better) best = { node, gpuIds: fit.gpuIds, freeCores };
  }
  return best === null ? null : { node: best.node, gpuIds: best.gpuIds };
}
