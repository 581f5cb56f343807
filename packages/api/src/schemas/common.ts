import { z } from "zod";

/**
 * A task or batch id: a 64-bit snowflake sent as a decimal string, because it exceeds JavaScript's
 * safe integers. Integers are accepted on input for older clients and turned into strings.
 */
export const TaskIdSchema = z
  .union([z.string().regex(/^\d{1,20}$/, "must be a decimal task id"), z.number().int().nonnegative()])
  .transform((value) => String(value));

export const TaskIdParamsSchema = z.object({
  task_id: z.string().regex(/^\d{1,20}$/, "must be a decimal task id such as 7263012345678901248"),
});

export const ErrorBodySchema = z.object({
  detail: z.string(),
  code: z.string(),
  field: z.string().optional(),
});

export const MessageSchema = z.object({ message: z.string() });

/** ISO-8601 timestamp in UTC, for example 2026-12-04T10:00:00.000Z. */
export const TimestampSchema = z.string();
