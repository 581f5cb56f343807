/** Runner configuration: the original's key names (RunnerConfig) plus a few new keys, validated once at start. */

import { hostname } from "node:os";
import { join } from "node:path";

import { loadConfig, type LoadConfigOptions } from "@kohakuriver/common";
import { z } from "zod";

// Port 0 lets the system pick a free port (used by tests); the chosen port is logged at start.
const port = z.number().int().min(0).max(65535);

export const RunnerConfigSchema = z.object({
  RUNNER_BIND_IP: z.string().min(1).default("0.0.0.0"),
  RUNNER_PORT: port.default(8001),
  /** New: the node name this runner registers as; empty means the machine's host name. */
  RUNNER_HOSTNAME: z.string().default(""),
  /** New: the address the host uses to reach this runner; empty means RUNNER_BIND_IP, or a detected address when that is 0.0.0.0. */
  RUNNER_ADDRESS: z.string().default(""),
  HOST_ADDRESS: z.string().min(1).default("127.0.0.1"),
  HOST_PORT: port.default(8000),
  SHARED_DIR: z.string().min(1).default("/mnt/cluster-share"),
  LOCAL_TEMP_DIR: z.string().min(1).default("/tmp/kohakuriver"),
  CONTAINER_TAR_DIR: z.string().default(""),
  NUMACTL_PATH: z.string().default(""),
  RUNNER_LOG_FILE: z.string().default(""),
  HEARTBEAT_INTERVAL_SECONDS: z.number().positive().max(3600).default(2),
  RESOURCE_CHECK_INTERVAL_SECONDS: z.number().positive().default(1),
  RUNNER_USER: z.string().default(""),
  DEFAULT_WORKING_DIR: z.string().min(1).default("/shared"),
  TASKS_PRIVILEGED: z.boolean().default(false),
  ADDITIONAL_MOUNTS: z.array(z.string()).default([]),
  DOCKER_IMAGE_SYNC_TIMEOUT: z.number().positive().default(600),
  TUNNEL_ENABLED: z.boolean().default(false),
  TUNNEL_CLIENT_PATH: z.string().default(""),
  DOCKER_NETWORK_NAME: z.string().min(1).default("kohakuriver-net"),
  DOCKER_NETWORK_SUBNET: z.string().min(1).default("172.30.0.0/16"),
  DOCKER_NETWORK_GATEWAY: z.string().min(1).default("172.30.0.1"),
  AUTO_SNAPSHOT_ON_STOP: z.boolean().default(true),
  MAX_SNAPSHOTS_PER_VPS: z.number().int().min(0).default(3),
  AUTO_RESTORE_ON_CREATE: z.boolean().default(true),
  LOG_LEVEL: z.string().default("info"),
  VM_IMAGES_DIR: z.string().default("/var/lib/kohakuriver/vm-images"),
  VM_INSTANCES_DIR: z.string().default("/var/lib/kohakuriver/vm-instances"),
  VM_DEFAULT_MEMORY_MB: z.number().int().positive().default(4096),
  VM_DEFAULT_DISK_SIZE: z.string().default("500G"),
  VM_ACS_OVERRIDE: z.boolean().default(false),
  OVERLAY_ENABLED: z.boolean().default(false),
  OVERLAY_SUBNET: z.string().default("10.128.0.0/12/6/14"),
  OVERLAY_NETWORK_NAME: z.string().default("kohakuriver-overlay"),
  OVERLAY_VXLAN_ID: z.number().int().default(100),
  OVERLAY_VXLAN_PORT: port.default(4789),
  OVERLAY_MTU: z.number().int().default(1450),
  /** New: the cluster token created by the host (see `kohakuriver host` output); CLUSTER_TOKEN_FILE is read when this is empty. */
  CLUSTER_TOKEN: z.string().default(""),
  CLUSTER_TOKEN_FILE: z.string().default(""),
  /** New: directory for the runner's own state file; kept out of LOCAL_TEMP_DIR, which workloads can write. */
  RUNNER_STATE_DIR: z.string().min(1).default("/var/lib/kohakuriver/runner"),
  /** New: Docker Engine socket. */
  DOCKER_SOCKET: z.string().min(1).default("/var/run/docker.sock"),
  /** New: nvidia-smi executable used to list GPUs; missing means no GPUs. */
  NVIDIA_SMI_PATH: z.string().min(1).default("nvidia-smi"),
});

export type RunnerConfig = z.output<typeof RunnerConfigSchema>;

export function loadRunnerConfig(options: LoadConfigOptions = {}): {
  config: Readonly<RunnerConfig>;
  file: string | null;
} {
  return loadConfig(RunnerConfigSchema, options);
}

export function resolveRunnerConfig(values: Partial<RunnerConfig> = {}): Readonly<RunnerConfig> {
  return Object.freeze(RunnerConfigSchema.parse(values));
}

export function runnerNodeName(config: RunnerConfig): string {
  return config.RUNNER_HOSTNAME !== "" ? config.RUNNER_HOSTNAME : hostname();
}

export function runnerStateFile(config: RunnerConfig): string {
  return join(config.RUNNER_STATE_DIR, "runner-state.json");
}

export function hostBaseUrl(config: RunnerConfig): string {
  const address = config.HOST_ADDRESS.includes(":") ? `[${config.HOST_ADDRESS}]` : config.HOST_ADDRESS;
  return `http://${address}:${config.HOST_PORT}`;
}
