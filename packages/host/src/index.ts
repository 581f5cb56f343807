export { startHost, type HostHandle, type LocalAdminToken, type StartHostOptions } from "./host.js";
export * from "./config.js";
export { HOST_VERSION } from "./version.js";
export type { Store, TaskRecord, NodeRecord } from "./store/types.js";
