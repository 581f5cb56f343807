/** `kohakuriver docker container …`: the host's environment containers (kohakuriver-env-{name}). */

import type { Command } from "commander";

import { createClient, hostSocketUrl, type CliRuntime } from "../../context.js";
import { runTerminalClient } from "../../terminal-client.js";
import { withElapsedProgress } from "./progress.js";

export function registerContainerCommands(docker: Command, runtime: CliRuntime): void {
  const container = docker
    .command("container")
    .summary("environment containers on the host, where you prepare environments");

  container
    .command("list")
    .summary("list environment containers on the host")
    .option("--json", "print the API's container objects as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { output } = runtime;
      const containers = await createClient(command, runtime).listEnvironmentContainers();
      if (options.json === true) {
        output.json(containers);
        return;
      }
      if (containers.length === 0) {
        output.note("no environment containers; create one with: kohakuriver docker container create IMAGE NAME");
        return;
      }
      output.table(
        ["ENVIRONMENT", "CONTAINER", "IMAGE", "STATUS", "CREATED"],
        containers.map((item) => [item.env_name, item.name, item.image, item.status, item.created]),
      );
    });

  container
    .command("create")
    .summary("create and start an environment container from an image (pulled on the host when missing)")
    .argument("<image>", "image to start from, such as kohakuriver/kohakuriver-base:base or ubuntu:22.04")
    .argument("<name>", "environment name, such as my-env; the container is kohakuriver-env-<name>")
    .action(async (image: string, name: string, _options: unknown, command: Command) => {
      const client = createClient(command, runtime);
      const created = await withElapsedProgress(
        runtime.output,
        `creating environment container ${name} from ${image}`,
        client.createEnvironmentContainer({ image_name: image, container_name: name }),
      );
      runtime.output.line(created.message);
      runtime.output.hint(
        `install what the environment needs inside it, then publish it: kohakuriver docker tar create ${name}`,
      );
    });

  for (const action of ["start", "stop", "delete"] as const) {
    container
      .command(action)
      .summary(`${action} an environment container`)
      .argument("<name>", "environment name")
      .option("-f, --force", "accepted for compatibility; containers are always removed even when running")
      .action(async (name: string, _options: unknown, command: Command) => {
        const result = await createClient(command, runtime).environmentContainerAction(action, name);
        runtime.output.line(result.message);
      });
  }

  container
    .command("migrate")
    .summary("rename a container from before the kohakuriver-env- prefix into an environment container")
    .argument("<name>", "the old container name, without the kohakuriver-env- prefix")
    .action(async (name: string, _options: unknown, command: Command) => {
      const client = createClient(command, runtime);
      const result = await withElapsedProgress(
        runtime.output,
        `migrating container ${name}`,
        client.environmentContainerAction("migrate", name),
      );
      runtime.output.line(result.message);
    });

  container
    .command("shell")
    .summary("open an interactive shell in a running environment container (bash, else sh); leave with exit or Ctrl-D")
    .argument("<name>", "environment name, or its container name kohakuriver-env-<name>")
    .action(async (name: string, _options: unknown, command: Command) => {
      const target = hostSocketUrl(command, runtime, `/ws/docker/host/containers/${encodeURIComponent(name)}/terminal`);
      runtime.exitCode = await runTerminalClient({ ...target, label: `environment container ${name}` });
    });
}
