/**
 * The file API of a task or VPS container, relayed to the runner of its node: each operation becomes the
 * same request on the runner, and the runner's error status and body come back unchanged. Paths are
 * checked here first (absolute, not under /proc, /sys or /dev), so an invalid request costs no runner call.
 * The runner checks them again with their symlinks resolved.
 */

import { normalizeContainerPath } from "@kohakuriver/access";
import {
  KohakuRiverError,
  errorFromResponse,
  type FileDeleteQuery,
  type FileDeleteResponse,
  type FileListQuery,
  type FileListResponse,
  type FileMkdirRequest,
  type FileMkdirResponse,
  type FileOperations,
  type FileReadQuery,
  type FileReadResponse,
  type FileRenameRequest,
  type FileRenameResponse,
  type FileStatResponse,
  type FileWriteRequest,
  type FileWriteResponse,
} from "@kohakuriver/api";

import { RunnerUnreachableError, type RunnerClient } from "../dispatch/runner-client.js";
import type { TaskTarget } from "./task-target.js";

/**
 * Time the host waits for a runner's response: reads and writes carry up to 50 MiB (67 MiB as base64), and
 * the runner allows 30 s for each program it runs in the container.
 */
export const FILE_RELAY_TIMEOUT_MS = 120_000;

export class RunnerFiles implements FileOperations {
  constructor(
    private readonly runners: RunnerClient,
    private readonly target: TaskTarget,
  ) {}

  list(query: FileListQuery): Promise<FileListResponse> {
    return this.call("GET", "list", {
      path: normalizeContainerPath(query.path, "path"),
      show_hidden: String(query.show_hidden),
    });
  }

  read(query: FileReadQuery): Promise<FileReadResponse> {
    return this.call("GET", "read", {
      path: normalizeContainerPath(query.path, "path"),
      encoding: query.encoding,
      limit: String(query.limit),
    });
  }

  write(request: FileWriteRequest): Promise<FileWriteResponse> {
    return this.call("POST", "write", undefined, { ...request, path: normalizeContainerPath(request.path, "path") });
  }

  mkdir(request: FileMkdirRequest): Promise<FileMkdirResponse> {
    return this.call("POST", "mkdir", undefined, { ...request, path: normalizeContainerPath(request.path, "path") });
  }

  rename(request: FileRenameRequest): Promise<FileRenameResponse> {
    return this.call("POST", "rename", undefined, {
      ...request,
      source: normalizeContainerPath(request.source, "source"),
      destination: normalizeContainerPath(request.destination, "destination"),
    });
  }

  delete(query: FileDeleteQuery): Promise<FileDeleteResponse> {
    return this.call("DELETE", "delete", {
      path: normalizeContainerPath(query.path, "path"),
      recursive: String(query.recursive),
    });
  }

  stat(path: string): Promise<FileStatResponse> {
    return this.call("GET", "stat", { path: normalizeContainerPath(path, "path") });
  }

  private async call<T>(
    method: string,
    operation: string,
    query: Record<string, string> | undefined,
    body?: unknown,
  ): Promise<T> {
    const { task, node } = this.target;
    const search = query === undefined ? "" : `?${new URLSearchParams(query).toString()}`;
    let response;
    try {
      response = await this.runners.call(
        node,
        method,
        `/api/fs/${task.task_id}/${operation}${search}`,
        body,
        FILE_RELAY_TIMEOUT_MS,
      );
    } catch (error) {
      if (error instanceof RunnerUnreachableError) {
        throw new KohakuRiverError("unavailable", 502, `${error.message}; try again when the node is back`);
      }
      throw error;
    }
    if (response.status === 200) return response.body as T;
    throw errorFromResponse(response.status, response.body);
  }
}
