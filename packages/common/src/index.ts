export * from "./config-loader.js";
export * from "./logger.js";
export * from "./atomic-file.js";
export * from "./cluster-http.js";
export * from "./backoff.js";
export * from "./paths.js";
export * from "./http-errors.js";
export * from "./semaphore.js";
