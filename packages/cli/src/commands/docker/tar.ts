/** `kohakuriver docker tar …`: environment tarballs that runners load. */

import { formatBytes } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { withElapsedProgress } from "./progress.js";

export function registerTarCommands(docker: Command, runtime: CliRuntime): void {
  const tar = docker.command("tar").summary("environment tarballs that runners load before tasks start");

  tar
    .command("list")
    .summary("list published tarballs per environment, newest first")
    .option("--json", "print the API's tarball list as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const list = await createClient(command, runtime).listTarballs();
      if (options.json === true) {
        output.json(list);
        return;
      }
      const rows: string[][] = [];
      for (const [environment, entry] of Object.entries(list).sort(([a], [b]) => a.localeCompare(b))) {
        entry.all_versions.forEach((version, index) => {
          rows.push([
            index === 0 ? environment : "",
            String(version.timestamp),
            new Date(version.timestamp * 1000).toISOString(),
            formatBytes(version.size_bytes),
            version.tarball,
          ]);
        });
      }
      if (rows.length === 0) {
        output.note("no tarballs; publish an environment with: kohakuriver docker tar create NAME");
        return;
      }
      output.table(["ENVIRONMENT", "TIMESTAMP", "PUBLISHED", "SIZE", "FILE"], rows);
    });

  tar
    .command("create")
    .summary("commit an environment container and publish it as a tarball for the runners")
    .argument("<name>", "environment name")
    .action(async (name: string, _options: unknown, command: Command) => {
      const client = createClient(command, runtime);
      const created = await withElapsedProgress(
        runtime.output,
        `committing and saving environment ${name}`,
        client.createTarball(name),
      );
      runtime.output.line(`${created.message} (${formatBytes(created.size_bytes)}, ${created.tarball_path})`);
    });

  tar
    .command("delete")
    .summary("delete every tarball of an environment")
    .argument("<name>", "environment name")
    .option("-f, --force", "accepted for compatibility; deletion never asks")
    .action(async (name: string, _options: unknown, command: Command) => {
      const result = await createClient(command, runtime).deleteTarballs(name);
      runtime.output.line(result.message);
    });
}
