/**
 * The file API of running task and VPS containers (`/api/fs/{task_id}/…`) and of the host's environment
 * containers (`/api/fs/container/{name}/…`), and the frames of the change-watch WebSocket
 * (`/ws/fs/{task_id}/watch`). Paths are absolute paths inside the container; the servers normalise them
 * and reject `/proc`, `/sys` and `/dev`.
 */

import { z } from "zod";

/** The largest file that `read` returns and `write` accepts, in bytes (50 MiB, before base64 encoding). */
export const FILE_TRANSFER_MAX_BYTES = 50 * 1024 * 1024;
/** The maximum number of entries that `list` returns; `truncated` is set when a directory has more. */
export const FILE_LIST_MAX_ENTRIES = 1000;
/**
 * The request body limit of the write route: the base64 form of the largest file, plus room for the
 * other fields and JSON escapes of text content.
 */
export const FILE_WRITE_BODY_LIMIT_BYTES = Math.ceil(FILE_TRANSFER_MAX_BYTES / 3) * 4 + 1024 * 1024;

const ContainerPathSchema = z.string().min(1, "must be an absolute path such as /shared/data.txt").max(4096);

/** Booleans in query strings, as `true`/`false` or `1`/`0`. */
const QueryBooleanSchema = z
  .enum(["true", "false", "1", "0"], { error: "must be true or false" })
  .transform((value) => value === "true" || value === "1");

export const FileEncodingSchema = z.enum(["utf-8", "base64"], { error: "must be utf-8 or base64" });
export type FileEncoding = z.infer<typeof FileEncodingSchema>;

export const FileTypeSchema = z.enum(["file", "directory", "symlink", "other"]);
export type FileType = z.infer<typeof FileTypeSchema>;

export const FileListQuerySchema = z.object({
  path: ContainerPathSchema.default("/"),
  show_hidden: QueryBooleanSchema.default(false),
});
export type FileListQuery = z.infer<typeof FileListQuerySchema>;

export const FileReadQuerySchema = z.object({
  path: ContainerPathSchema,
  encoding: FileEncodingSchema.default("utf-8"),
  limit: z.coerce
    .number({ error: `must be a whole number of bytes from 0 to ${FILE_TRANSFER_MAX_BYTES}` })
    .int(`must be a whole number of bytes from 0 to ${FILE_TRANSFER_MAX_BYTES}`)
    .min(0)
    .max(FILE_TRANSFER_MAX_BYTES, `must be at most ${FILE_TRANSFER_MAX_BYTES} bytes (50 MiB)`)
    .default(FILE_TRANSFER_MAX_BYTES),
});
export type FileReadQuery = z.infer<typeof FileReadQuerySchema>;

export const FileWriteRequestSchema = z.object({
  path: ContainerPathSchema,
  content: z.string(),
  encoding: FileEncodingSchema.default("utf-8"),
  create_parents: z.boolean().default(true),
});
export type FileWriteRequest = z.infer<typeof FileWriteRequestSchema>;

export const FileMkdirRequestSchema = z.object({
  path: ContainerPathSchema,
  parents: z.boolean().default(true),
});
export type FileMkdirRequest = z.infer<typeof FileMkdirRequestSchema>;

export const FileRenameRequestSchema = z.object({
  source: ContainerPathSchema,
  destination: ContainerPathSchema,
  overwrite: z.boolean().default(false),
});
export type FileRenameRequest = z.infer<typeof FileRenameRequestSchema>;

export const FileDeleteQuerySchema = z.object({
  path: ContainerPathSchema,
  recursive: QueryBooleanSchema.default(false),
});
export type FileDeleteQuery = z.infer<typeof FileDeleteQuerySchema>;

export const FileStatQuerySchema = z.object({ path: ContainerPathSchema });
export type FileStatQuery = z.infer<typeof FileStatQuerySchema>;

export const FileEntrySchema = z.object({
  name: z.string(),
  path: z.string(),
  type: FileTypeSchema,
  /** Bytes for regular files, -1 for everything else. */
  size: z.number(),
  /** Last modification, ISO 8601. */
  mtime: z.string(),
  /** Permission bits as `ls` shows them, such as `rwxr-xr-x`. */
  permissions: z.string(),
  /** For symlinks, the absolute path they resolve to inside the container. */
  link_target: z.string().nullable(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

export const FileListResponseSchema = z.object({
  path: z.string(),
  entries: z.array(FileEntrySchema),
  /** The parent directory, or null for `/`. */
  parent: z.string().nullable(),
  /** True when the directory has more than FILE_LIST_MAX_ENTRIES entries and only the first (by name) are listed. */
  truncated: z.boolean(),
});
export type FileListResponse = z.infer<typeof FileListResponseSchema>;

export const FileReadResponseSchema = z.object({
  path: z.string(),
  content: z.string(),
  encoding: FileEncodingSchema,
  /** The whole file's size in bytes, also when `content` is cut at `limit`. */
  size: z.number(),
  truncated: z.boolean(),
});
export type FileReadResponse = z.infer<typeof FileReadResponseSchema>;

export const FileWriteResponseSchema = z.object({ path: z.string(), size: z.number(), success: z.boolean() });
export type FileWriteResponse = z.infer<typeof FileWriteResponseSchema>;

export const FileMkdirResponseSchema = z.object({
  path: z.string(),
  success: z.boolean(),
  /** False when the directory existed already (allowed with `parents`). */
  created: z.boolean(),
});
export type FileMkdirResponse = z.infer<typeof FileMkdirResponseSchema>;

export const FileRenameResponseSchema = z.object({
  message: z.string(),
  source: z.string(),
  destination: z.string(),
});
export type FileRenameResponse = z.infer<typeof FileRenameResponseSchema>;

export const FileDeleteResponseSchema = z.object({ message: z.string(), path: z.string() });
export type FileDeleteResponse = z.infer<typeof FileDeleteResponseSchema>;

export const FileStatResponseSchema = z.object({
  path: z.string(),
  name: z.string(),
  type: FileTypeSchema,
  size: z.number(),
  mtime: z.string(),
  permissions: z.string(),
  /** Permission and special bits in octal, such as `755` or `4755`. */
  mode: z.string(),
  uid: z.number(),
  gid: z.number(),
  /** The owner's and group's names from the container's /etc/passwd and /etc/group, else their ids. */
  owner: z.string(),
  group: z.string(),
  link_target: z.string().nullable(),
  /** Whether the owner permission bits allow reading and writing. */
  is_readable: z.boolean(),
  is_writable: z.boolean(),
  /** For regular files: the first 8 KiB contain a NUL byte or are not UTF-8. False for other types. */
  is_binary: z.boolean(),
});
export type FileStatResponse = z.infer<typeof FileStatResponseSchema>;

export const ContainerNameParamsSchema = z.object({ container_name: z.string().min(1).max(200) });

/** Directories watched when the `paths` query parameter is absent. */
export const DEFAULT_WATCH_PATHS = ["/shared", "/local_temp"] as const;

export const FileWatchQuerySchema = z.object({
  /** Comma-separated absolute directory paths. */
  paths: z.string().max(65_536).optional(),
});

export const FileChangeEventSchema = z.enum(["CREATE", "MODIFY", "DELETE", "MOVE"]);
export type FileChangeEvent = z.infer<typeof FileChangeEventSchema>;

export const WatchServerFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("watching"),
    paths: z.array(z.string()),
    method: z.enum(["inotify", "polling"]),
    /** Seconds between polls, with method `polling` only. */
    interval: z.number().optional(),
  }),
  z.object({ type: z.literal("change"), event: FileChangeEventSchema, path: z.string(), is_dir: z.boolean() }),
  z.object({ type: z.literal("error"), message: z.string() }),
  z.object({ type: z.literal("pong") }),
]);
export type WatchServerFrame = z.infer<typeof WatchServerFrameSchema>;

export const WatchClientFrameSchema = z.object({ type: z.literal("ping") });

export function watchErrorFrame(message: string): string {
  return JSON.stringify({ type: "error", message } satisfies WatchServerFrame);
}

/** The file API's operations on one container, implemented in place (ContainerFiles) or by relaying to a runner. */
export interface FileOperations {
  list(query: FileListQuery): Promise<FileListResponse>;
  read(query: FileReadQuery): Promise<FileReadResponse>;
  write(request: FileWriteRequest): Promise<FileWriteResponse>;
  mkdir(request: FileMkdirRequest): Promise<FileMkdirResponse>;
  rename(request: FileRenameRequest): Promise<FileRenameResponse>;
  delete(query: FileDeleteQuery): Promise<FileDeleteResponse>;
  stat(path: string): Promise<FileStatResponse>;
}
