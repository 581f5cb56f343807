/** Resource probes of the runner's machine: CPU, memory, temperatures, NUMA topology and NVIDIA GPUs. */

export * from "./cpu-list.js";
export * from "./cpu.js";
export * from "./cpuset.js";
export * from "./gpu.js";
export * from "./memory.js";
export * from "./numa.js";
export * from "./temperature.js";
