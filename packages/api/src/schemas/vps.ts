/** Shapes of the VPS API: creation, listing, lifecycle, snapshots, and the runner's VPS requests. */
import { z } from "zod";

import { TaskIdSchema, TimestampSchema } from "./common.js";
import { MemoryBytesSchema, TaskStatusSchema } from "./task.js";

export const SSH_KEY_MODES = ["disabled", "none", "upload", "generate"] as const;
export type SshKeyMode = (typeof SSH_KEY_MODES)[number];

/**
 * OpenSSH public key line: a key type, base64 data and an optional comment, on one line. Options before
 * the key type (`command="…"`) are rejected, because the line is written to authorized_keys as given.
 */
const PUBLIC_KEY_PATTERN =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]{16,8192}={0,3}( [\x20-\x7e]{0,200})?$/;

export const SshPublicKeySchema = z
  .string()
  .transform((text) => text.trim())
  .refine(
    (text) => PUBLIC_KEY_PATTERN.test(text),
    "must be one OpenSSH public key line such as 'ssh-ed25519 AAAA… comment' (the content of a .pub file)",
  );

/** Body of POST /api/vps/create, compatible with the original's VPSSubmission. */
export const VpsCreateSchema = z
  .object({
    name: z
      .string()
      .max(100)
      // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
      .refine((text) => !/[\x00-\x1f\x7f]/.test(text), "must be one line of text without control characters")
      .nullable()
      .default(null),
    required_cores: z.number().min(0, "must be 0 (no limit) or more cores").max(4096).default(1),
    /** GPU indices on the target node (a flat list, unlike /api/submit). */
    required_gpus: z.array(z.number().int().min(0).max(1023)).max(1024).nullable().default(null),
    required_memory_bytes: MemoryBytesSchema.nullable().default(null),
    target_hostname: z.string().max(253).nullable().default(null),
    target_numa_node_id: z.number().int().min(0).max(1023).nullable().default(null),
    container_name: z.string().max(200).nullable().default(null),
    registry_image: z.string().max(500).nullable().default(null),
    ssh_key_mode: z
      .enum(SSH_KEY_MODES, { error: "must be one of disabled, none, upload or generate" })
      .default("disabled"),
    ssh_public_key: SshPublicKeySchema.nullable().default(null),
    ip_reservation_token: z.string().max(500).nullable().default(null),
    vps_backend: z.enum(["docker", "qemu"], { error: "must be docker or qemu" }).default("docker"),
    vm_image: z.string().max(200).nullable().default(null),
    vm_disk_size: z.string().max(20).nullable().default(null),
    memory_mb: z.number().int().min(1).nullable().default(null),
    privileged: z.boolean().nullable().default(null),
    additional_mounts: z.array(z.string().max(4096)).max(64).nullable().default(null),
  })
  .superRefine((body, context) => {
    if (body.ssh_key_mode === "upload" && body.ssh_public_key === null) {
      context.addIssue({
        code: "custom",
        path: ["ssh_public_key"],
        message: "is required when ssh_key_mode is 'upload': pass the content of your .pub file",
      });
    }
    if (body.ssh_key_mode !== "upload" && body.ssh_public_key !== null) {
      context.addIssue({
        code: "custom",
        path: ["ssh_public_key"],
        message: `is only used with ssh_key_mode 'upload' (got '${body.ssh_key_mode}'); drop it or switch the mode`,
      });
    }
  });
export type VpsCreate = z.input<typeof VpsCreateSchema>;
export type ParsedVpsCreate = z.output<typeof VpsCreateSchema>;

export const VpsCreateResponseSchema = z.object({
  message: z.string(),
  task_id: z.string(),
  vps_backend: z.string(),
  ssh_key_mode: z.enum(SSH_KEY_MODES),
  /** The published SSH port once the VPS runs; null while it is queued or starting. */
  ssh_port: z.number().nullable(),
  status: TaskStatusSchema,
  assigned_node: z.object({ hostname: z.string(), url: z.string() }).nullable(),
  /** Generated key pair, returned only by this response in `generate` mode. The host keeps only the public key. */
  ssh_private_key: z.string().optional(),
  ssh_public_key: z.string().optional(),
});
export type VpsCreateResponse = z.infer<typeof VpsCreateResponseSchema>;

/** A VPS as GET /api/vps and GET /api/vps/status return it. */
export const VpsResponseSchema = z.object({
  task_id: z.string(),
  name: z.string().nullable(),
  owner_id: z.number().nullable(),
  owner_username: z.string().nullable(),
  assignees: z.array(z.object({ id: z.number(), username: z.string() })),
  required_cores: z.number(),
  required_gpus: z.array(z.number()),
  required_memory_bytes: z.number().nullable(),
  status: TaskStatusSchema,
  assigned_node: z.string().nullable(),
  target_numa_node_id: z.number().nullable(),
  container_name: z.string().nullable(),
  registry_image: z.string().nullable(),
  docker_image_name: z.string().nullable(),
  ssh_key_mode: z.enum(SSH_KEY_MODES),
  ssh_port: z.number().nullable(),
  vps_backend: z.string(),
  vm_image: z.string().nullable(),
  vm_ip: z.string().nullable(),
  exit_code: z.number().nullable(),
  error_message: z.string().nullable(),
  submitted_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  completed_at: TimestampSchema.nullable(),
});
export type VpsResponse = z.infer<typeof VpsResponseSchema>;

export const VpsRestartQuerySchema = z.object({
  /** New: restore this snapshot (its Unix timestamp) instead of the newest one. */
  snapshot: z
    .string()
    .regex(/^\d{1,12}$/, "must be a snapshot timestamp (whole seconds)")
    .optional(),
});

export const SnapshotSchema = z.object({
  tag: z.string(),
  task_id: z.string(),
  timestamp: z.number(),
  size: z.number(),
  created_at: z.string(),
  message: z.string().nullable(),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

export const SnapshotListSchema = z.object({
  task_id: z.string(),
  snapshots: z.array(SnapshotSchema),
  count: z.number(),
});

export const SnapshotCreateQuerySchema = z.object({
  message: z
    .string()
    .max(1000, "must be at most 1000 characters")
    .refine(
      // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
      (text) => !/[\x00-\x08\x0b-\x1f\x7f]/.test(text),
      "must not contain control characters other than tab and newline",
    )
    .optional(),
});

export const SnapshotParamsSchema = z.object({
  task_id: z.string().regex(/^\d{1,20}$/, "must be a decimal task id such as 7263012345678901248"),
  timestamp: z.string().regex(/^\d{1,12}$/, "must be a snapshot timestamp (whole seconds)"),
});

/** Body of the runner's POST /api/vps/create. */
export const RunnerVpsCreateRequestSchema = z.object({
  task_id: TaskIdSchema,
  /** Restart count of the VPS: a create for a newer generation of a stopped VPS is a new container. */
  generation: z.number().int().min(0).default(0),
  name: z.string().nullable().default(null),
  required_cores: z.number().min(0).default(0),
  required_gpus: z.array(z.number().int().min(0)).default([]),
  required_memory_bytes: z.number().int().min(0).nullable().default(null),
  target_numa_node_id: z.number().int().min(0).nullable().default(null),
  container_name: z.string().nullable().default(null),
  registry_image: z.string().nullable().default(null),
  docker_image_name: z.string().min(1),
  ssh_key_mode: z.enum(SSH_KEY_MODES).default("disabled"),
  ssh_public_key: z.string().nullable().default(null),
  /** Snapshot timestamp to restore; null restores the newest when AUTO_RESTORE_ON_CREATE is set. */
  restore_snapshot: z.number().int().min(0).nullable().default(null),
  working_dir: z.string().default("/shared"),
  privileged: z.boolean().default(false),
  additional_mounts: z.array(z.string()).default([]),
  reserved_ip: z.string().nullable().default(null),
  vps_backend: z.enum(["docker", "qemu"]).default("docker"),
});
export type RunnerVpsCreateRequest = z.input<typeof RunnerVpsCreateRequestSchema>;
export type ParsedRunnerVpsCreateRequest = z.output<typeof RunnerVpsCreateRequestSchema>;

/** Body of the runner's POST /api/vps/stop/{id}. */
export const RunnerVpsStopRequestSchema = z.object({
  /** Commit a snapshot before removing the container; null follows the runner's AUTO_SNAPSHOT_ON_STOP. */
  snapshot: z.boolean().nullable().default(null),
  /** Snapshot timestamp that the retention must keep, because a restart is about to restore it. */
  keep: z.number().int().min(0).nullable().default(null),
});
