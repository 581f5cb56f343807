export { runCli, buildProgram } from "./main.js";
export type { CliIo, CliRuntime } from "./context.js";
export type { CliStream } from "./output.js";
