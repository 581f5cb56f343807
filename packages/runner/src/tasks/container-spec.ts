/** Builds the container for a command task from the dispatched request and the runner's configuration. */

import { join } from "node:path";

import {
  LABEL_NODE,
  LABEL_TASK_ID,
  LABEL_TASK_TYPE,
  taskContainerName,
  type NumaTopology,
  type ParsedTaskExecuteRequest,
} from "@kohakuriver/api";

import type { RunnerConfig } from "../config.js";
import type { BindMount, TaskContainerSpec } from "../driver/types.js";
import { cpusetForNumaNode } from "../probes/cpuset.js";

export interface ContainerSpecContext {
  config: RunnerConfig;
  nodeName: string;
  network: string | null;
  numaTopology: NumaTopology | null;
}

export function buildTaskContainerSpec(
  request: ParsedTaskExecuteRequest,
  context: ContainerSpecContext,
): TaskContainerSpec {
  const { config } = context;
  const env: Record<string, string> = {
    ...request.env_vars,
    KOHAKURIVER_TASK_ID: request.task_id,
    KOHAKURIVER_SHARED_DIR: "/shared",
    KOHAKURIVER_LOCAL_TEMP_DIR: "/local_temp",
  };

  let cpusetCpus: string | null = null;
  let cpusetMems: string | null = null;
  if (request.target_numa_node_id !== null && context.numaTopology !== null) {
    const cpuset = cpusetForNumaNode(context.numaTopology, request.target_numa_node_id);
    if (cpuset !== null) {
      cpusetCpus = cpuset.cpus;
      cpusetMems = cpuset.mems;
      env.KOHAKURIVER_TARGET_NUMA_NODE = String(request.target_numa_node_id);
    }
  }

  const privileged = request.privileged || config.TASKS_PRIVILEGED;
  return {
    name: taskContainerName(request.task_id),
    image: request.docker_image_name,
    cmd: commandLineOf(request),
    env,
    labels: {
      [LABEL_TASK_ID]: request.task_id,
      [LABEL_TASK_TYPE]: "command",
      [LABEL_NODE]: context.nodeName,
    },
    workingDir: request.working_dir,
    binds: [
      { source: join(config.SHARED_DIR, "shared_data"), target: "/shared" },
      { source: config.LOCAL_TEMP_DIR, target: "/local_temp" },
      ...parseMounts([...config.ADDITIONAL_MOUNTS, ...request.additional_mounts]),
    ],
    cores: request.required_cores,
    memoryBytes: request.required_memory_bytes,
    cpusetCpus,
    cpusetMems,
    gpuIds: request.required_gpus,
    privileged,
    capAdd: privileged ? [] : ["SYS_NICE"],
    network: context.network,
    ipAddress: request.reserved_ip,
  };
}

/** `/bin/sh -c "command 'arg' …"` in shell mode (the original's behaviour), else the exec form. */
export function commandLineOf(request: Pick<ParsedTaskExecuteRequest, "command" | "arguments" | "shell">): string[] {
  if (!request.shell) return [request.command, ...request.arguments];
  const quoted = request.arguments.map(shellQuote);
  return ["/bin/sh", "-c", [request.command, ...quoted].join(" ")];
}

/** Quotes one word for POSIX sh: it reaches the program exactly as given. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

/** Parses `host:container[:ro]` mount specs (host paths must be absolute). */
export function parseMounts(specs: readonly string[]): BindMount[] {
  return specs.map((spec) => {
    const [source = "", target = "", options = ""] = spec.split(":");
    if (!source.startsWith("/") || !target.startsWith("/")) {
      throw new Error(`invalid mount '${spec}': use /host/path:/container/path[:ro]`);
    }
    return { source, target, readOnly: options.split(",").includes("ro") };
  });
}
