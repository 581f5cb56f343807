/** `kohakuriver config show`: the CLI's effective settings and where each came from. */

import { existsSync } from "node:fs";
import { join } from "node:path";

import { kohakuriverHome } from "@kohakuriver/common";
import type { Command } from "commander";

import { resolveHostSettings, type CliRuntime, type GlobalOptions, type SettingSource } from "../../context.js";

export interface ConfigReport {
  url: string;
  host: { value: string; source: SettingSource };
  port: { value: number; source: SettingSource };
  config_dir: { path: string; source: SettingSource };
  files: Array<{ name: string; path: string; exists: boolean }>;
}

export function registerConfigShow(config: Command, runtime: CliRuntime): void {
  config
    .command("show")
    .summary("show the host URL the CLI uses, where each value came from, and the config files")
    .option("--json", "print the settings as JSON")
    .action((options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const report = buildConfigReport(command.optsWithGlobals<GlobalOptions>(), runtime.io.env);

      if (options.json === true) {
        output.json(report);
        return;
      }
      const source = (value: SettingSource, variable: string): string =>
        output.colors.dim(value === "environment" ? `(from ${variable})` : `(from ${value})`);
      const pairs: Array<[string, string]> = [
        ["Host URL", report.url],
        ["Host", `${report.host.value} ${source(report.host.source, "KOHAKURIVER_HOST")}`],
        ["Port", `${report.port.value} ${source(report.port.source, "KOHAKURIVER_PORT")}`],
        ["Config directory", `${report.config_dir.path} ${source(report.config_dir.source, "KOHAKURIVER_HOME")}`],
      ];
      for (const file of report.files) {
        pairs.push([file.name, file.exists ? file.path : output.colors.dim(`${file.path} (not present)`)]);
      }
      output.details(pairs);
      if (report.files.some((file) => !file.exists)) {
        output.note("create the missing config files with 'kohakuriver init config'");
      }
    });
}

export function buildConfigReport(options: GlobalOptions, env: Record<string, string | undefined>): ConfigReport {
  const settings = resolveHostSettings(options, env);
  const directory = kohakuriverHome(env);
  return {
    url: settings.url,
    host: { value: settings.host, source: settings.sources.host },
    port: { value: settings.port, source: settings.sources.port },
    config_dir: { path: directory, source: env.KOHAKURIVER_HOME === undefined ? "default" : "environment" },
    files: ["host.toml", "runner.toml"].map((name) => {
      const path = join(directory, name);
      return { name, path, exists: existsSync(path) };
    }),
  };
}
