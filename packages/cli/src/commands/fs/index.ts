/** `kohakuriver fs ls|cat|put|get`: files in a running task or VPS container, through the host's file API. */

import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";

import {
  FILE_TRANSFER_MAX_BYTES,
  type FileEncoding,
  type FileListResponse,
  type FileReadResponse,
  type HostClient,
} from "@kohakuriver/api";
import type { Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { UsageError } from "../../errors.js";
import { checkTaskId } from "../../options.js";

/** Time allowed for one transfer of up to 50 MiB through the host and the runner. */
const TRANSFER_TIMEOUT_MS = 180_000;

function readContainerFile(
  client: HostClient,
  taskId: string,
  path: string,
  encoding: FileEncoding,
): Promise<FileReadResponse> {
  const query = new URLSearchParams({ path, encoding });
  return client.request<FileReadResponse>("GET", `/api/fs/${checkTaskId(taskId)}/read?${query}`, undefined, "json", {
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
}

export function registerFsCommands(program: Command, runtime: CliRuntime): void {
  const fs = program.command("fs").summary("list, print, upload and download files in a running task or VPS");

  fs.command("ls")
    .summary("list a directory in the container")
    .argument("<id>", "task or VPS id")
    .argument("[path]", "absolute directory path in the container", "/")
    .option("-a, --all", "include names that start with a dot")
    .option("--json", "print the API's response as JSON")
    .action(async (taskId: string, path: string, options: { all?: boolean; json?: boolean }, command: Command) => {
      const client = createClient(command, runtime);
      const query = new URLSearchParams({ path, show_hidden: String(options.all === true) });
      const listing = await client.request<FileListResponse>("GET", `/api/fs/${checkTaskId(taskId)}/list?${query}`);
      if (options.json === true) {
        runtime.output.json(listing);
        return;
      }
      runtime.output.table(
        ["PERMISSIONS", "SIZE", "MODIFIED", "NAME"],
        listing.entries.map((entry) => [
          `${entry.type === "directory" ? "d" : entry.type === "symlink" ? "l" : "-"}${entry.permissions}`,
          entry.size < 0 ? "" : String(entry.size),
          entry.mtime.replace("T", " ").slice(0, 19),
          entry.link_target === null
            ? JSON.stringify(entry.name).slice(1, -1)
            : `${entry.name} -> ${entry.link_target}`,
        ]),
      );
      if (listing.truncated) runtime.output.line(`(only the first ${listing.entries.length} entries are listed)`);
    });

  fs.command("cat")
    .summary("print a text file from the container")
    .argument("<id>", "task or VPS id")
    .argument("<path>", "absolute file path in the container")
    .action(async (taskId: string, path: string, _options: unknown, command: Command) => {
      const file = await readContainerFile(createClient(command, runtime), taskId, path, "utf-8");
      runtime.output.raw(file.content);
      if (file.truncated) runtime.output.rawError(`\n(cut at ${FILE_TRANSFER_MAX_BYTES} of ${file.size} bytes)\n`);
    });

  fs.command("put")
    .summary("upload a local file into the container (at most 50 MiB)")
    .argument("<id>", "task or VPS id")
    .argument("<local>", "local file")
    .argument("<path>", "absolute destination path in the container; missing directories are created")
    .action(async (taskId: string, local: string, path: string, _options: unknown, command: Command) => {
      const id = checkTaskId(taskId);
      const data = await readFile(local);
      if (data.length > FILE_TRANSFER_MAX_BYTES) {
        throw new UsageError(
          `${local} has ${data.length} bytes, more than the ${FILE_TRANSFER_MAX_BYTES}-byte limit; copy it through /shared`,
        );
      }
      const client = createClient(command, runtime);
      const written = await client.request<{ size: number }>(
        "POST",
        `/api/fs/${id}/write`,
        { path, content: data.toString("base64"), encoding: "base64", create_parents: true },
        "json",
        { timeoutMs: TRANSFER_TIMEOUT_MS },
      );
      runtime.output.line(`Wrote ${written.size} bytes to ${path}.`);
    });

  fs.command("get")
    .summary("download a file from the container (at most 50 MiB)")
    .argument("<id>", "task or VPS id")
    .argument("<path>", "absolute file path in the container")
    .argument("[local]", "local destination (default: the file's name in the current directory)")
    .action(async (taskId: string, path: string, local: string | undefined, _options: unknown, command: Command) => {
      const file = await readContainerFile(createClient(command, runtime), taskId, path, "base64");
      if (file.truncated) {
        throw new UsageError(
          `${path} has ${file.size} bytes, more than the ${FILE_TRANSFER_MAX_BYTES}-byte limit; copy it through /shared`,
        );
      }
      const destination = local ?? basename(file.path);
      const data = Buffer.from(file.content, "base64");
      await writeFile(destination, data);
      runtime.output.line(`Wrote ${data.length} bytes to ${destination}.`);
    });
}
