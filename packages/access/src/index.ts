export * from "./connect.js";
export * from "./exec.js";
export * from "./flow.js";
export * from "./relay.js";
export * from "./process-session.js";
export * from "./terminal.js";
export * from "./files/index.js";
