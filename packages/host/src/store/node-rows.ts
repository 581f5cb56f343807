/** Mapping between node records and rows of the `nodes` table. */

import { InvalidInputError, type GpuInfo, type NumaTopology } from "@kohakuriver/api";
import type { Insertable, Selectable, Updateable } from "kysely";

import type { NodesTable } from "./database.js";
import {
  decodeBoolean,
  decodeInt64Number,
  decodeJson,
  encodeBoolean,
  encodeJson,
  encodeNullableTimestamp,
  encodeTimestamp,
} from "./row-values.js";
import type { NodeMutableFields, NodeRecord, NodeStatus } from "./types.js";

/** Columns that `toNodeUpdate` accepts. A record type makes the compiler report a field missing here. */
const UPDATABLE_COLUMNS: ReadonlySet<string> = new Set(
  Object.keys({
    url: true,
    total_cores: true,
    memory_total_bytes: true,
    status: true,
    last_heartbeat: true,
    cpu_percent: true,
    memory_percent: true,
    memory_used_bytes: true,
    current_avg_temp: true,
    current_max_temp: true,
    numa_topology: true,
    gpu_info: true,
    vm_capable: true,
    vfio_gpus: true,
    runner_version: true,
  } satisfies Record<keyof NodeMutableFields, true>),
);

const JSON_COLUMNS: ReadonlySet<string> = new Set(["numa_topology", "gpu_info", "vfio_gpus"]);

export function toNodeRow(node: Omit<NodeRecord, "registered_at">, registeredAt: string): Insertable<NodesTable> {
  return {
    hostname: node.hostname,
    url: node.url,
    total_cores: node.total_cores,
    memory_total_bytes: node.memory_total_bytes,
    status: encodeNodeStatus(node.status),
    last_heartbeat: encodeNullableTimestamp(node.last_heartbeat, "last_heartbeat"),
    cpu_percent: node.cpu_percent,
    memory_percent: node.memory_percent,
    memory_used_bytes: node.memory_used_bytes,
    current_avg_temp: node.current_avg_temp,
    current_max_temp: node.current_max_temp,
    numa_topology: node.numa_topology === null ? null : encodeJson(node.numa_topology),
    gpu_info: encodeJson(node.gpu_info),
    vm_capable: encodeBoolean(node.vm_capable),
    vfio_gpus: encodeJson(node.vfio_gpus),
    runner_version: node.runner_version,
    registered_at: encodeTimestamp(registeredAt, "registered_at"),
  };
}

/**
 * Returns the updatable fields of a node, for the update half of an upsert. Other properties, such as a
 * `registered_at` on a record passed back in, are left out.
 */
export function pickNodeFields(node: Omit<NodeRecord, "registered_at">): Partial<NodeMutableFields> {
  const fields: Record<string, unknown> = {};
  for (const column of UPDATABLE_COLUMNS) {
    fields[column] = node[column as keyof NodeMutableFields];
  }
  return fields as Partial<NodeMutableFields>;
}

/** Encodes the columns of an update, leaving out undefined fields. */
export function toNodeUpdate(fields: Partial<NodeMutableFields>): Updateable<NodesTable> {
  const update: Record<string, unknown> = {};

  for (const [column, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (!UPDATABLE_COLUMNS.has(column)) {
      throw new TypeError(`Node column ${column} cannot be updated`);
    }

    if (JSON_COLUMNS.has(column)) {
      update[column] = value === null ? null : encodeJson(value);
    } else if (column === "vm_capable") {
      update[column] = encodeBoolean(value as boolean);
    } else if (column === "last_heartbeat") {
      update[column] = encodeNullableTimestamp(value as string | null, column);
    } else if (column === "status") {
      update[column] = encodeNodeStatus(value as string);
    } else {
      update[column] = value;
    }
  }

  return update as Updateable<NodesTable>;
}

export function fromNodeRow(row: Selectable<NodesTable>): NodeRecord {
  const context = (column: string) => `nodes.${column} of node ${row.hostname}`;

  return {
    hostname: row.hostname,
    url: row.url,
    total_cores: row.total_cores,
    memory_total_bytes: decodeInt64Number(row.memory_total_bytes),
    status: decodeNodeStatus(row.status, row.hostname),
    last_heartbeat: row.last_heartbeat,
    cpu_percent: row.cpu_percent,
    memory_percent: row.memory_percent,
    memory_used_bytes: decodeInt64Number(row.memory_used_bytes),
    current_avg_temp: row.current_avg_temp,
    current_max_temp: row.current_max_temp,
    numa_topology: decodeJson<NumaTopology | null>(row.numa_topology, null, context("numa_topology")),
    gpu_info: decodeJson<GpuInfo[]>(row.gpu_info, [], context("gpu_info")),
    vm_capable: decodeBoolean(row.vm_capable),
    vfio_gpus: decodeJson<unknown[]>(row.vfio_gpus, [], context("vfio_gpus")),
    runner_version: row.runner_version,
    registered_at: row.registered_at,
  };
}

function encodeNodeStatus(value: string): NodeStatus {
  if (value === "online" || value === "offline") return value;
  throw new InvalidInputError(`invalid node status "${value}": expected "online" or "offline"`, "status");
}

function decodeNodeStatus(value: string, hostname: string): NodeStatus {
  if (value === "online" || value === "offline") return value;
  throw new Error(`Node ${hostname} has unknown status "${value}" in the database`);
}
