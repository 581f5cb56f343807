import { z } from "zod";

import { TaskIdSchema } from "./common.js";

/** NUMA topology keyed by NUMA node id: `{"0": {"cores": [0,1], "memory_bytes": 1073741824}}`. */
export const NumaTopologySchema = z.record(
  z.string().regex(/^\d+$/),
  z.object({ cores: z.array(z.number().int().min(0)), memory_bytes: z.number().min(0).nullable().default(null) }),
);
export type NumaTopology = z.infer<typeof NumaTopologySchema>;

/** One GPU as the runner reports it; -1 where a value could not be read. */
export const GpuInfoSchema = z.object({
  gpu_id: z.number().int().min(0),
  name: z.string(),
  driver_version: z.string().default(""),
  pci_bus_id: z.string().default(""),
  gpu_utilization: z.number().default(-1),
  graphics_clock_mhz: z.number().default(-1),
  mem_utilization: z.number().default(-1),
  mem_clock_mhz: z.number().default(-1),
  memory_total_mib: z.number().default(-1),
  memory_used_mib: z.number().default(-1),
  memory_free_mib: z.number().default(-1),
  temperature: z.number().default(-1),
  fan_speed: z.number().default(-1),
  power_usage_mw: z.number().default(-1),
  power_limit_mw: z.number().default(-1),
});
export type GpuInfo = z.infer<typeof GpuInfoSchema>;

/**
 * One GPU that can be passed through to a VM, as the runner reports it: scalar fields such as `gpu_id`,
 * `pci_address` and `iommu_group`, and lists of scalars such as `iommu_group_peers`. Deeper nesting is
 * rejected, so that the host can always store the value and return it.
 */
const VfioValueSchema = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]);
export const VfioGpuSchema = z.record(
  z.string().max(100),
  z.union([VfioValueSchema, z.array(VfioValueSchema).max(1024)]),
);

/** A percentage as the runner measures it (CPU or memory in use). */
const PercentSchema = z
  .number()
  .min(0, "must be a percentage from 0 to 100")
  .max(100, "must be a percentage from 0 to 100");

/** A byte count: a whole number within the safe integers, so that the store reads back exactly what was written. */
const ByteCountSchema = z
  .number()
  .int("must be a whole number of bytes")
  .min(0, "must be 0 or more bytes")
  .max(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER} bytes`);

export const RegisterRequestSchema = z.object({
  hostname: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, "must be a host name"),
  // Only http and https: the host sends requests to this URL and the dashboard shows it as a link.
  url: z
    .url({ protocol: /^https?$/, error: "must be the runner's http:// or https:// URL, such as http://10.0.0.5:8001" })
    .max(500),
  total_cores: z.number().int().min(1).max(65536),
  total_ram_bytes: z.number().int().min(0).nullable().optional(),
  numa_topology: NumaTopologySchema.nullable().optional(),
  gpu_info: z.array(GpuInfoSchema).nullable().optional(),
  runner_version: z.string().max(100).nullable().optional(),
});
export type RegisterRequest = z.input<typeof RegisterRequestSchema>;
export type ParsedRegisterRequest = z.output<typeof RegisterRequestSchema>;

export const RegisterResponseSchema = z.object({
  message: z.string(),
  created: z.boolean(),
  overlay: z.null(),
  /** The host's heartbeat interval, so that a runner configured differently still beats often enough. */
  heartbeat_interval_seconds: z.number(),
});
export type RegisterResponse = z.infer<typeof RegisterResponseSchema>;

export const KilledTaskReportSchema = z.object({ task_id: TaskIdSchema, reason: z.string().max(1000) });

export const HeartbeatRequestSchema = z.object({
  running_tasks: z.array(TaskIdSchema).max(100000).default([]),
  killed_tasks: z.array(KilledTaskReportSchema).max(100000).default([]),
  cpu_percent: PercentSchema.nullable().optional(),
  memory_percent: PercentSchema.nullable().optional(),
  memory_used_bytes: ByteCountSchema.nullable().optional(),
  memory_total_bytes: ByteCountSchema.nullable().optional(),
  current_avg_temp: z.number().nullable().optional(),
  current_max_temp: z.number().nullable().optional(),
  gpu_info: z.array(GpuInfoSchema).nullable().optional(),
  vm_capable: z.boolean().default(false),
  vfio_gpus: z.array(VfioGpuSchema).max(1024).nullable().optional(),
  runner_version: z.string().max(100).nullable().optional(),
});
export type HeartbeatRequest = z.input<typeof HeartbeatRequestSchema>;
export type ParsedHeartbeatRequest = z.output<typeof HeartbeatRequestSchema>;

export const HeartbeatResponseSchema = z.object({
  message: z.string(),
  /** Tasks the runner still runs but the host no longer expects; the runner stops and removes them. */
  stop_tasks: z.array(z.object({ task_id: z.string(), reason: z.string() })),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;

export const NodeStatusSchema = z.enum(["online", "offline"]);

export const NodeResponseSchema = z.object({
  hostname: z.string(),
  url: z.string(),
  total_cores: z.number(),
  cores_in_use: z.union([z.number(), z.literal("N/A")]),
  available_cores: z.number(),
  memory_in_use_bytes: z.number(),
  gpus_in_use: z.array(z.number()),
  status: NodeStatusSchema,
  last_heartbeat: z.string().nullable(),
  numa_topology: NumaTopologySchema.nullable(),
  gpu_info: z.array(GpuInfoSchema),
  cpu_percent: z.number().nullable(),
  memory_percent: z.number().nullable(),
  memory_used_bytes: z.number().nullable(),
  memory_total_bytes: z.number().nullable(),
  current_avg_temp: z.number().nullable(),
  current_max_temp: z.number().nullable(),
  vm_capable: z.boolean(),
  vfio_gpus: z.array(z.unknown()),
  runner_version: z.string().nullable(),
});
export type NodeResponse = z.infer<typeof NodeResponseSchema>;

export const NodeHealthSchema = z.object({
  hostname: z.string(),
  status: NodeStatusSchema,
  last_heartbeat: z.string().nullable(),
  cpu_percent: z.number().nullable(),
  memory_percent: z.number().nullable(),
  memory_used_bytes: z.number().nullable(),
  memory_total_bytes: z.number().nullable(),
  total_cores: z.number(),
  numa_topology: NumaTopologySchema.nullable(),
  current_avg_temp: z.number().nullable(),
  current_max_temp: z.number().nullable(),
  gpu_info: z.array(GpuInfoSchema),
});
export type NodeHealth = z.infer<typeof NodeHealthSchema>;

export const HealthAggregateSchema = z.object({
  totalNodes: z.number(),
  onlineNodes: z.number(),
  totalCores: z.number(),
  totalMemBytes: z.number(),
  usedMemBytes: z.number(),
  avgCpuPercent: z.number(),
  avgMemPercent: z.number(),
  maxAvgCpuTemp: z.number(),
  maxMaxCpuTemp: z.number(),
  lastUpdated: z.string().nullable(),
});
export type HealthAggregate = z.infer<typeof HealthAggregateSchema>;

export const HealthResponseSchema = z.union([
  z.object({ nodes: z.array(z.array(NodeHealthSchema)), aggregate: z.array(HealthAggregateSchema) }),
  z.array(NodeHealthSchema),
]);
