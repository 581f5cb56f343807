export * from "./container-files.js";
export * from "./engine-archive.js";
export * from "./path-stat.js";
export * from "./paths.js";
export * from "./watch.js";
