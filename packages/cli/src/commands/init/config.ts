/** `kohakuriver init config`: write host.toml and runner.toml templates with every key and its default. */

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { kohakuriverHome } from "@kohakuriver/common";
import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { CliError } from "../../errors.js";
import { HOST_CONFIG_COMMENTS, RUNNER_CONFIG_COMMENTS } from "./config-comments.js";
import { renderConfigTemplate } from "./template.js";

interface InitConfigOptions {
  host?: boolean;
  runner?: boolean;
  outputDir?: string;
  force?: boolean;
}

export function registerInitConfig(init: Command, runtime: CliRuntime): void {
  init
    .command("config")
    .summary("write host.toml and runner.toml templates with every key and its default")
    .option("--host", "write only host.toml")
    .option("--runner", "write only runner.toml")
    .option("-o, --output-dir <dir>", "directory to write to (default: KOHAKURIVER_HOME or ~/.kohakuriver)")
    .option("--force", "overwrite existing files")
    .action(async (options: InitConfigOptions) => {
      const { output } = runtime;
      const directory = options.outputDir ?? kohakuriverHome(runtime.io.env);
      const both = options.host !== true && options.runner !== true;
      const files: Array<{ name: string; text: string }> = [];
      if (both || options.host === true) files.push({ name: "host.toml", text: await hostTemplate() });
      if (both || options.runner === true) files.push({ name: "runner.toml", text: await runnerTemplate() });

      // Check every file before writing any, so a rejected run leaves nothing half done.
      for (const file of files) {
        const path = join(directory, file.name);
        if (existsSync(path) && options.force !== true) {
          throw new CliError(`${path} already exists; edit it, or pass --force to replace it with the template`);
        }
      }

      mkdirSync(directory, { recursive: true });
      for (const file of files) {
        const path = join(directory, file.name);
        // Owner-only, because the file is where ADMIN_SECRET and CLUSTER_TOKEN go.
        writeFileSync(path, file.text, { mode: 0o600 });
        output.line(`wrote ${path}`);
      }
      output.note("edit the values you need; KOHAKURIVER_<KEY> environment variables override the file");
    });
}

export async function hostTemplate(): Promise<string> {
  const { HostConfigSchema } = await import("@kohakuriver/host");
  return renderConfigTemplate({
    header: [
      "KohakuRiver host configuration, read by 'kohakuriver host' (or 'kohakuriver host -c FILE').",
      "Every key is listed with its default value. An environment variable KOHAKURIVER_<KEY>",
      "overrides the value here, for example KOHAKURIVER_HOST_PORT=9000.",
    ],
    defaults: HostConfigSchema.parse({}),
    comments: HOST_CONFIG_COMMENTS,
  });
}

export async function runnerTemplate(): Promise<string> {
  const { RunnerConfigSchema } = await import("@kohakuriver/runner");
  return renderConfigTemplate({
    header: [
      "KohakuRiver runner configuration, read by 'kohakuriver runner' (or 'kohakuriver runner -c FILE').",
      "Every key is listed with its default value. An environment variable KOHAKURIVER_<KEY>",
      "overrides the value here, for example KOHAKURIVER_RUNNER_PORT=9001.",
    ],
    defaults: RunnerConfigSchema.parse({}),
    comments: RUNNER_CONFIG_COMMENTS,
  });
}
