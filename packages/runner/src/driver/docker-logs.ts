/** Copies a container's output from the engine's logs API into a stdout file and a stderr file. */

import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { finished } from "node:stream/promises";

import type Docker from "dockerode";

import type { LogFiles } from "./types.js";

async function openTruncated(path: string): Promise<WriteStream> {
  await mkdir(dirname(path), { recursive: true });
  const stream = createWriteStream(path, { flags: "w" });
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  return stream;
}

/**
 * Follows the container's stdout and stderr from its first line and demultiplexes them into the two files,
 * which are truncated first. Resolves after the engine ends the stream (the container stopped) and both
 * files are closed. For a container that already exited, the engine sends everything and ends at once.
 */
export async function copyContainerLogs(docker: Docker, name: string, files: LogFiles): Promise<void> {
  const stdoutFile = await openTruncated(files.stdoutPath);
  let stderrFile: WriteStream;
  try {
    stderrFile = await openTruncated(files.stderrPath);
  } catch (error) {
    stdoutFile.destroy();
    throw error;
  }
  // Subscribing now also attaches the error listeners, so a failed write rejects here instead of crashing.
  const filesClosed = Promise.all([finished(stdoutFile), finished(stderrFile)]);
  filesClosed.catch(() => undefined);

  let source: NodeJS.ReadableStream & { destroy(error?: Error): void };
  try {
    source = (await docker
      .getContainer(name)
      .logs({ follow: true, stdout: true, stderr: true, since: 0 })) as typeof source;
  } catch (error) {
    stdoutFile.destroy();
    stderrFile.destroy();
    throw error;
  }
  for (const file of [stdoutFile, stderrFile]) {
    file.once("error", (error) => source.destroy(error));
  }

  // demuxStream ignores write() results, so this second listener pauses the engine stream while a file
  // has a full buffer. That bounds memory when a task writes faster than the disk takes it.
  source.on("data", () => {
    const blocked = [stdoutFile, stderrFile].filter((file) => file.writableNeedDrain);
    if (blocked.length === 0) {
      return;
    }
    source.pause();
    let waiting = blocked.length;
    for (const file of blocked) {
      file.once("drain", () => {
        waiting -= 1;
        if (waiting === 0) {
          source.resume();
        }
      });
    }
  });
  docker.modem.demuxStream(source, stdoutFile, stderrFile);

  try {
    await finished(source);
  } finally {
    stdoutFile.end();
    stderrFile.end();
    await filesClosed;
  }
}

/**
 * Makes sure the files hold everything the engine kept once the container has stopped. A following log
 * stream can end a moment before the engine stores the container's last output: with Docker 20.10,
 * `printf abc; sleep 0.5` left an empty stdout file. The logs of the stopped container are read once more
 * (the engine then sends everything and ends the stream), and the files are replaced when the sizes differ.
 */
export async function completeContainerLogs(docker: Docker, name: string, files: LogFiles): Promise<void> {
  const complete = { stdoutPath: `${files.stdoutPath}.complete`, stderrPath: `${files.stderrPath}.complete` };
  try {
    await copyContainerLogs(docker, name, complete);
    const [followed, reread] = await Promise.all([sizesOf(files), sizesOf(complete)]);
    if (followed.stdout !== reread.stdout || followed.stderr !== reread.stderr) {
      await rename(complete.stdoutPath, files.stdoutPath);
      await rename(complete.stderrPath, files.stderrPath);
    }
  } finally {
    await rm(complete.stdoutPath, { force: true });
    await rm(complete.stderrPath, { force: true });
  }
}

async function sizesOf(files: LogFiles): Promise<{ stdout: number; stderr: number }> {
  const [stdout, stderr] = await Promise.all([stat(files.stdoutPath), stat(files.stderrPath)]);
  return { stdout: stdout.size, stderr: stderr.size };
}
