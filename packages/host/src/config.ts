/** Host configuration: the original's key names (HostConfig) plus a few new keys, validated once at start. */

import { dirname, join } from "node:path";

import { loadConfig, type LoadConfigOptions } from "@kohakuriver/common";
import { z } from "zod";

// Port 0 lets the system pick a free port (used by tests); the chosen port is logged at start.
const port = z.number().int().min(0).max(65535);

export const HostConfigSchema = z.object({
  HOST_BIND_IP: z.string().min(1).default("0.0.0.0"),
  HOST_PORT: port.default(8000),
  HOST_SSH_PROXY_PORT: port.default(8002),
  HOST_REACHABLE_ADDRESS: z.string().min(1).default("127.0.0.1"),
  SHARED_DIR: z.string().min(1).default("/mnt/cluster-share"),
  DB_FILE: z.string().min(1).default("/var/lib/kohakuriver/kohakuriver.db"),
  /** New: a postgres:// URL selects PostgreSQL instead of the SQLite file in DB_FILE. */
  DATABASE_URL: z.string().default(""),
  CONTAINER_DIR: z.string().default(""),
  HOST_LOG_FILE: z.string().default(""),
  /** Seconds between runner heartbeats that the host expects. */
  HEARTBEAT_INTERVAL_SECONDS: z.number().positive().max(3600).default(2),
  /** A node is offline after HEARTBEAT_INTERVAL_SECONDS × HEARTBEAT_TIMEOUT_FACTOR seconds without a heartbeat. */
  HEARTBEAT_TIMEOUT_FACTOR: z.number().min(1).max(1000).default(5),
  /** Seconds between checks for nodes that stopped sending heartbeats. */
  CLEANUP_CHECK_INTERVAL_SECONDS: z.number().positive().max(3600).default(1),
  DEFAULT_CONTAINER_NAME: z.string().min(1).default("kohakuriver-base"),
  INITIAL_BASE_IMAGE: z.string().min(1).default("python:3.12-alpine"),
  /**
   * New: at start, create the default environment (DEFAULT_CONTAINER_NAME) and publish its tarball when it
   * has none. False skips this, for hosts without a Docker Engine and for tests that share one engine.
   */
  DEFAULT_CONTAINER_BOOTSTRAP: z.boolean().default(true),
  /** New: tarballs kept per environment after publishing; older ones are deleted (the original kept 1). */
  TARBALL_KEEP_COUNT: z.number().int().min(1).max(1000).default(2),
  /** New: Docker Engine socket for environment containers and tarballs. */
  DOCKER_SOCKET: z.string().min(1).default("/var/run/docker.sock"),
  TASKS_PRIVILEGED: z.boolean().default(false),
  ADDITIONAL_MOUNTS: z.array(z.string()).default([]),
  DEFAULT_WORKING_DIR: z.string().min(1).default("/shared"),
  ENV_CONTAINER_CPU_LIMIT: z.number().min(0).max(1).default(0.25),
  ENV_CONTAINER_MEM_LIMIT: z.number().min(0).max(1).default(0.25),
  LOG_LEVEL: z.string().default("info"),
  OVERLAY_ENABLED: z.boolean().default(false),
  OVERLAY_SUBNET: z.string().default("10.128.0.0/12/6/14"),
  OVERLAY_VXLAN_ID: z.number().int().default(100),
  OVERLAY_VXLAN_PORT: port.default(4789),
  OVERLAY_MTU: z.number().int().default(1450),
  AUTH_ENABLED: z.boolean().default(false),
  ADMIN_SECRET: z.string().default(""),
  ADMIN_REGISTER_SECRET: z.string().default(""),
  SESSION_EXPIRE_HOURS: z.number().positive().default(720),
  INVITATION_EXPIRE_HOURS: z.number().positive().default(24),
  /** New: file holding the cluster token that runners present; empty means `cluster-token` beside DB_FILE. */
  CLUSTER_TOKEN_FILE: z.string().default(""),
});

export type HostConfig = z.output<typeof HostConfigSchema>;

export function loadHostConfig(options: LoadConfigOptions = {}): { config: Readonly<HostConfig>; file: string | null } {
  return loadConfig(HostConfigSchema, options);
}

/** Resolves a partial config (tests, `kohakuriver up`) against the defaults. */
export function resolveHostConfig(values: Partial<HostConfig> = {}): Readonly<HostConfig> {
  return Object.freeze(HostConfigSchema.parse(values));
}

export function clusterTokenFile(config: HostConfig): string {
  return config.CLUSTER_TOKEN_FILE !== "" ? config.CLUSTER_TOKEN_FILE : join(dirname(config.DB_FILE), "cluster-token");
}

export function containerDir(config: HostConfig): string {
  return config.CONTAINER_DIR !== "" ? config.CONTAINER_DIR : join(config.SHARED_DIR, "kohakuriver-containers");
}

export function heartbeatTimeoutMs(config: HostConfig): number {
  return config.HEARTBEAT_INTERVAL_SECONDS * config.HEARTBEAT_TIMEOUT_FACTOR * 1000;
}
