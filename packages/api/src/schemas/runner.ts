/** Shapes exchanged between the host and its runners (dispatch, control and status reports). */
import { z } from "zod";

import { TaskStatusSchema } from "./task.js";
import { TaskIdSchema } from "./common.js";

/** Body of the runner's POST /api/execute: everything the runner needs to start one command task. */
export const TaskExecuteRequestSchema = z.object({
  task_id: TaskIdSchema,
  command: z.string(),
  arguments: z.array(z.string()).default([]),
  shell: z.boolean().default(true),
  env_vars: z.record(z.string(), z.string()).default({}),
  required_cores: z.number().min(0).default(0),
  required_gpus: z.array(z.number().int().min(0)).default([]),
  required_memory_bytes: z.number().int().min(0).nullable().default(null),
  target_numa_node_id: z.number().int().min(0).nullable().default(null),
  container_name: z.string().nullable().default(null),
  registry_image: z.string().nullable().default(null),
  docker_image_name: z.string().min(1),
  working_dir: z.string().default("/shared"),
  stdout_path: z.string().default(""),
  stderr_path: z.string().default(""),
  privileged: z.boolean().default(false),
  additional_mounts: z.array(z.string()).default([]),
  reserved_ip: z.string().nullable().default(null),
});
export type TaskExecuteRequest = z.input<typeof TaskExecuteRequestSchema>;
export type ParsedTaskExecuteRequest = z.output<typeof TaskExecuteRequestSchema>;

export const TaskExecuteResponseSchema = z.object({
  message: z.string(),
  task_id: z.string(),
  /** True when the runner had already accepted this task id; the dispatch was a repeat. */
  already_accepted: z.boolean(),
});

/** Body of the runner's POST /api/kill, /api/pause and /api/resume. */
export const TaskControlRequestSchema = z.object({
  task_id: TaskIdSchema,
  container_name: z.string().optional(),
});
export type TaskControlRequest = z.input<typeof TaskControlRequestSchema>;

/** Body of the host's POST /api/update, sent by runners. */
export const TaskStatusUpdateSchema = z.object({
  task_id: TaskIdSchema,
  status: TaskStatusSchema,
  exit_code: z.number().int().nullable().optional(),
  message: z.string().max(100000).nullable().optional(),
  started_at: z.string().nullable().optional(),
  completed_at: z.string().nullable().optional(),
  ssh_port: z.number().int().min(1).max(65535).nullable().optional(),
  /** VPS restart count the report is about; reports on an older generation of a restarted VPS are ignored. */
  generation: z.number().int().min(0).optional(),
});
export type TaskStatusUpdate = z.input<typeof TaskStatusUpdateSchema>;

export const TaskStatusUpdateResponseSchema = z.object({
  message: z.string(),
  /** False when the update was ignored: the task is unknown or not on a runner, or cannot move to that status. */
  applied: z.boolean(),
});
