export { startRunner, type RunnerHandle, type StartRunnerOptions } from "./runner.js";
export * from "./config.js";
export { RUNNER_VERSION } from "./version.js";
export type { WorkloadDriver } from "./driver/types.js";
