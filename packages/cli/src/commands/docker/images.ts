/** `kohakuriver docker images`: the Docker images on each online node. */

import { formatBytes } from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";

export function registerImagesCommand(docker: Command, runtime: CliRuntime): void {
  docker
    .command("images")
    .summary("list the Docker images on each node")
    .option("--json", "print the API's per-node image lists as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const result = await createClient(command, runtime).listNodeImages();
      if (options.json === true) {
        output.json(result);
        return;
      }
      if (result.nodes.length === 0) {
        output.note("no nodes registered; start a runner with 'kohakuriver runner'");
        return;
      }
      const rows: string[][] = [];
      for (const node of result.nodes) {
        if (node.error !== null) {
          rows.push([node.hostname, output.colors.yellow(`(${node.error})`), "", "", ""]);
          continue;
        }
        for (const image of node.images) {
          rows.push([
            node.hostname,
            image.tags.join(", ") || "<none>",
            image.id.replace(/^sha256:/, "").slice(0, 12),
            image.created,
            formatBytes(image.size),
          ]);
        }
      }
      output.table(["NODE", "TAGS", "IMAGE ID", "CREATED", "SIZE"], rows);
    });
}
