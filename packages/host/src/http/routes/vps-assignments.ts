/**
 * VPS assignment: operators give accounts the use of a VPS. Assignees pass the `task` policy of the
 * routes that act on a task (terminal, files, port forwarding, the SSH proxy) for that VPS.
 */

import { InvalidInputError, NotFoundError, TaskIdParamsSchema } from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { AuditLog } from "../../auth/audit-log.js";
import type { Store } from "../../store/types.js";
import { ERROR_RESPONSES } from "./error-responses.js";

export interface VpsAssignmentRoutesOptions {
  store: Store;
  audit: AuditLog;
}

const AssignmentSchema = z.object({
  user_id: z.number(),
  username: z.string(),
  display_name: z.string().nullable(),
  assigned_at: z.string(),
});

export const vpsAssignmentRoutes: FastifyPluginAsyncZod<VpsAssignmentRoutesOptions> = async (app, { store, audit }) => {
  async function requireVps(taskId: string): Promise<void> {
    const task = await store.getTask(taskId);
    if (task === undefined || task.task_type !== "vps") throw new NotFoundError(`VPS ${taskId} not found`);
  }

  app.post(
    "/api/vps/:task_id/assign",
    {
      schema: {
        tags: ["vps"],
        summary: "Assign accounts to a VPS (body: a JSON array of user ids)",
        params: TaskIdParamsSchema,
        body: z.array(z.number().int().min(1).max(2_147_483_647)).min(1).max(1000),
        response: {
          200: z.object({ message: z.string(), task_id: z.string(), assigned_users: z.array(z.number()) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const taskId = request.params.task_id;
      await requireVps(taskId);
      const userIds = [...new Set(request.body)];
      for (const userId of userIds) {
        if ((await store.auth.getUser(userId)) === undefined) {
          throw new InvalidInputError(`body: user ${userId} does not exist`, "body");
        }
      }
      await store.auth.assignVps(taskId, userIds, new Date().toISOString());
      await audit.record(request, { action: "vps.assign", target: `task:${taskId}`, detail: { user_ids: userIds } });
      return {
        message: `assigned ${userIds.length} user(s) to VPS ${taskId}`,
        task_id: taskId,
        assigned_users: userIds,
      };
    },
  );

  app.delete(
    "/api/vps/:task_id/assign/:user_id",
    {
      schema: {
        tags: ["vps"],
        summary: "Remove an account's assignment to a VPS",
        params: TaskIdParamsSchema.extend({
          user_id: z.coerce.number({ error: "must be a user id" }).int().min(1).max(2_147_483_647),
        }),
        response: { 200: z.object({ message: z.string() }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { task_id: taskId, user_id: userId } = request.params;
      await requireVps(taskId);
      if (!(await store.auth.unassignVps(taskId, userId))) {
        throw new NotFoundError(`user ${userId} is not assigned to VPS ${taskId}`);
      }
      await audit.record(request, { action: "vps.unassign", target: `task:${taskId}`, detail: { user_id: userId } });
      return { message: `user ${userId} unassigned from VPS ${taskId}` };
    },
  );

  app.get(
    "/api/vps/:task_id/assignments",
    {
      schema: {
        tags: ["vps"],
        summary: "Accounts assigned to a VPS",
        params: TaskIdParamsSchema,
        response: {
          200: z.object({ task_id: z.string(), assignments: z.array(AssignmentSchema) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const taskId = request.params.task_id;
      await requireVps(taskId);
      const assignments = await store.auth.listVpsAssignments(taskId);
      return {
        task_id: taskId,
        assignments: assignments.map((entry) => ({
          user_id: entry.user_id,
          username: entry.username,
          display_name: entry.display_name,
          assigned_at: entry.created_at,
        })),
      };
    },
  );
};
