import { z } from "zod";

import { parseMemorySize } from "../memory-size.js";
import { TASK_STATUSES } from "../task-status.js";
import { TaskIdSchema, TimestampSchema } from "./common.js";

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Text that reaches a container's command line or environment, where a NUL byte cannot be passed. */
const commandText = (maxLength: number) =>
  z
    .string()
    .max(maxLength)
    .refine((text) => !text.includes("\0"), "must not contain NUL bytes");

/** Memory in bytes: an integer, or a size string such as "256M" or "4G" (decimal suffixes). */
export const MemoryBytesSchema = z.union([
  z.number().int("must be a whole number of bytes").min(0, "must be 0 or more bytes"),
  z.string().transform((text, context) => {
    const bytes = parseMemorySize(text);
    if (bytes === null) {
      context.addIssue({
        code: "custom",
        message: `invalid size '${text}': use bytes or a number with K, M, G or T, such as 512M or 4G`,
      });
      return z.NEVER;
    }
    return bytes;
  }),
]);

/** Body of POST /api/submit, compatible with the original's TaskSubmission. */
export const TaskSubmissionSchema = z.object({
  task_type: z.enum(["command", "vps"]).default("command"),
  /** The command; run through `/bin/sh -c` unless `shell` is false, in which case it is the program to execute. */
  command: commandText(131072).default(""),
  arguments: z.array(commandText(131072)).max(4096).default([]),
  /**
   * New: false runs `[command, ...arguments]` directly, without a shell, so images without /bin/sh work and
   * arguments need no quoting. The default true keeps the original's `/bin/sh -c` behaviour.
   */
  shell: z.boolean().default(true),
  env_vars: z
    .record(
      z.string().regex(ENV_NAME_PATTERN, "environment variable names must match [A-Za-z_][A-Za-z0-9_]*"),
      commandText(131072),
    )
    .default({}),
  required_cores: z.number().min(0, "must be 0 (no limit) or more cores").max(4096).default(1),
  /** One list of GPU indices per target. */
  required_gpus: z
    .array(z.array(z.number().int().min(0).max(1023)))
    .nullable()
    .default(null),
  /** New: a number of GPUs for automatic placement, when no GPU indices are named. */
  required_gpu_count: z.number().int().min(0).max(1024).default(0),
  required_memory_bytes: MemoryBytesSchema.nullable().default(null),
  targets: z.array(z.string().max(300)).max(1024).nullable().default(null),
  container_name: z.string().max(200).nullable().default(null),
  registry_image: z.string().max(500).nullable().default(null),
  privileged: z.boolean().nullable().default(null),
  additional_mounts: z.array(z.string().max(4096)).max(64).nullable().default(null),
  ip_reservation_token: z.string().max(500).nullable().default(null),
  name: commandText(100).nullable().default(null),
});

export type TaskSubmission = z.input<typeof TaskSubmissionSchema>;
export type ParsedTaskSubmission = z.output<typeof TaskSubmissionSchema>;

export const SubmitResponseSchema = z.object({
  message: z.string(),
  task_ids: z.array(z.string()),
  batch_id: z.string(),
});
export type SubmitResponse = z.infer<typeof SubmitResponseSchema>;

export const TaskStatusSchema = z.enum(TASK_STATUSES);

/** A task as the API returns it (GET /api/status/{id}, GET /api/tasks). */
export const TaskResponseSchema = z.object({
  task_id: z.string(),
  task_type: z.string(),
  batch_id: z.string().nullable(),
  name: z.string().nullable(),
  command: z.string(),
  arguments: z.array(z.string()),
  shell: z.boolean(),
  env_vars: z.record(z.string(), z.string()),
  required_cores: z.number(),
  required_gpus: z.array(z.number()),
  required_gpu_count: z.number(),
  required_memory_bytes: z.number().nullable(),
  target_numa_node_id: z.number().nullable(),
  target_node: z.string().nullable(),
  owner_id: z.number().nullable(),
  owner_username: z.string().nullable(),
  approval_status: z.string().nullable(),
  approved_by_id: z.number().nullable(),
  approved_by_username: z.string().nullable(),
  approved_at: TimestampSchema.nullable(),
  rejection_reason: z.string().nullable(),
  status: TaskStatusSchema,
  assigned_node: z.string().nullable(),
  assignment_suspicion_count: z.number(),
  container_name: z.string().nullable(),
  registry_image: z.string().nullable(),
  docker_image_name: z.string().nullable(),
  docker_privileged: z.boolean(),
  docker_mount_dirs: z.array(z.string()),
  ssh_port: z.number().nullable(),
  vps_backend: z.string(),
  vm_image: z.string().nullable(),
  vm_disk_size: z.string().nullable(),
  vm_ip: z.string().nullable(),
  stdout_path: z.string(),
  stderr_path: z.string(),
  exit_code: z.number().nullable(),
  error_message: z.string().nullable(),
  submitted_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  completed_at: TimestampSchema.nullable(),
});
export type TaskResponse = z.infer<typeof TaskResponseSchema>;

export const TaskListQuerySchema = z.object({
  status: TaskStatusSchema.optional(),
  node: z.string().max(253).optional(),
  limit: z.coerce.number({ error: "must be a whole number from 1 to 10000" }).int().min(1).max(10000).default(100),
  offset: z.coerce.number({ error: "must be a whole number, 0 or more" }).int().min(0).default(0),
});
export type TaskListQuery = z.input<typeof TaskListQuerySchema>;

export const TaskListResponseSchema = z.array(TaskResponseSchema);

export const LogQuerySchema = z.object({
  lines: z.coerce
    .number({ error: "must be a whole number of lines from 1 to 1000000" })
    .int()
    .min(1)
    .max(1_000_000)
    .optional(),
  /** New: return the bytes from this offset on (at most 16 MiB), to follow a log; see the X-Log-* headers. */
  offset: z.coerce
    .number({ error: "must be a byte offset: a whole number from 0" })
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
});

export const TaskControlParamsSchema = z.object({
  task_id: z.string().regex(/^\d{1,20}$/, "must be a decimal task id"),
  command: z.enum(["pause", "resume"]),
});

export { TaskIdSchema };
