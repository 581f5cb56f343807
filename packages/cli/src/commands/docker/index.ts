/** The `kohakuriver docker` command group: environment containers on the host, tarballs and node images. */

import type { Command } from "commander";

import type { CliRuntime } from "../../context.js";
import { registerContainerCommands } from "./container.js";
import { registerImagesCommand } from "./images.js";
import { registerTarCommands } from "./tar.js";

export function registerDockerCommands(program: Command, runtime: CliRuntime): void {
  const docker = program
    .command("docker")
    .summary("prepare environments on the host, publish them as tarballs, list images on nodes");

  registerContainerCommands(docker, runtime);
  registerTarCommands(docker, runtime);
  registerImagesCommand(docker, runtime);
}
