/**
 * Configs of the host and runner that `kohakuriver up` starts: everything on 127.0.0.1 with data under
 * one directory. host.toml and runner.toml in that directory are read when present, and the values
 * here override them.
 */

import { join } from "node:path";

import { loadHostConfig, type HostConfig } from "@kohakuriver/host";
import { loadRunnerConfig, RunnerConfigSchema, type RunnerConfig } from "@kohakuriver/runner";

export const LOOPBACK = "127.0.0.1";

export interface UpSettings {
  dataDir: string;
  /** Host API port, or 0 for a free port. */
  hostPort: number;
  /** Runner API port, or 0 for a free port. */
  runnerPort: number;
  /** SSH proxy port, or 0 for a free port. */
  sshProxyPort: number;
  /** Node name. Undefined keeps runner.toml's RUNNER_HOSTNAME or the machine's host name. */
  nodeName: string | undefined;
  env: Record<string, string | undefined>;
}

export function loadUpHostConfig(settings: UpSettings): Readonly<HostConfig> {
  const { dataDir } = settings;
  return loadHostConfig({
    defaultFile: join(dataDir, "host.toml"),
    env: settings.env,
    overrides: {
      HOST_BIND_IP: LOOPBACK,
      HOST_PORT: settings.hostPort,
      HOST_SSH_PROXY_PORT: settings.sshProxyPort,
      // Other accounts on this machine can reach loopback too, so the API requires a token; `up` writes
      // one for the local CLI.
      AUTH_ENABLED: true,
      HOST_REACHABLE_ADDRESS: LOOPBACK,
      DB_FILE: join(dataDir, "kohakuriver.db"),
      SHARED_DIR: join(dataDir, "shared"),
      CLUSTER_TOKEN_FILE: join(dataDir, "cluster-token"),
    },
  }).config;
}

/** Loads the runner config. `hostPort` is the port the host actually listens on. */
export function loadUpRunnerConfig(settings: UpSettings, hostPort: number): Readonly<RunnerConfig> {
  const { dataDir } = settings;
  const overrides: Record<string, unknown> = {
    RUNNER_BIND_IP: LOOPBACK,
    RUNNER_ADDRESS: LOOPBACK,
    RUNNER_PORT: settings.runnerPort,
    HOST_ADDRESS: LOOPBACK,
    HOST_PORT: hostPort,
    SHARED_DIR: join(dataDir, "shared"),
    LOCAL_TEMP_DIR: join(dataDir, "local_temp"),
    RUNNER_HOSTNAME: settings.nodeName,
  };
  const options = { defaultFile: join(dataDir, "runner.toml"), env: settings.env, overrides };

  // Directories that default to system paths move under the data directory too, unless runner.toml or
  // the environment set them, so `up` works without root.
  const softDefaults: Record<string, string> = {
    RUNNER_STATE_DIR: join(dataDir, "runner"),
    VM_IMAGES_DIR: join(dataDir, "vm-images"),
    VM_INSTANCES_DIR: join(dataDir, "vm-instances"),
  };
  const first = loadRunnerConfig(options).config as Record<string, unknown>;
  const defaults = RunnerConfigSchema.parse({}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(softDefaults)) {
    if (key in defaults && first[key] === defaults[key]) overrides[key] = value;
  }
  return loadRunnerConfig(options).config;
}
