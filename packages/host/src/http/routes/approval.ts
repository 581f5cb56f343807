/** Approval of tasks that `user` accounts submitted: the pending list, approve and reject. */

import { MessageSchema, RejectQuerySchema, TaskIdParamsSchema, TaskListResponseSchema } from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { AuditLog } from "../../auth/audit-log.js";
import { taskActorOf } from "../../auth/principal.js";
import type { Store } from "../../store/types.js";
import type { TaskService } from "../../tasks/task-service.js";
import { toTaskResponses } from "../../tasks/task-view.js";
import { ERROR_RESPONSES } from "./error-responses.js";

export interface ApprovalRoutesOptions {
  tasks: TaskService;
  store: Store;
  audit: AuditLog;
}

export const approvalRoutes: FastifyPluginAsyncZod<ApprovalRoutesOptions> = async (app, { tasks, store, audit }) => {
  app.get(
    "/api/tasks/pending-approval",
    {
      schema: {
        tags: ["tasks"],
        summary: "Tasks waiting for approval, oldest first",
        querystring: z.object({
          limit: z.coerce
            .number({ error: "must be a whole number from 1 to 10000" })
            .int()
            .min(1)
            .max(10000)
            .default(100),
          offset: z.coerce.number({ error: "must be a whole number, 0 or more" }).int().min(0).default(0),
        }),
        response: { 200: TaskListResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const records = await store.listTasks({
        statuses: ["pending_approval"],
        order: "oldest",
        limit: request.query.limit,
        offset: request.query.offset,
      });
      return toTaskResponses(store, records);
    },
  );

  app.post(
    "/api/approve/:task_id",
    {
      schema: {
        tags: ["tasks"],
        summary: "Approve a task waiting for approval; it joins the queue and is placed on an online node",
        params: TaskIdParamsSchema,
        response: { 200: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const taskId = request.params.task_id;
      const message = await tasks.approve(taskId, taskActorOf(request.principal));
      await audit.record(request, { action: "task.approve", target: `task:${taskId}` });
      return { message };
    },
  );

  app.post(
    "/api/reject/:task_id",
    {
      schema: {
        tags: ["tasks"],
        summary: "Reject a task waiting for approval, with an optional ?reason=",
        params: TaskIdParamsSchema,
        querystring: RejectQuerySchema,
        response: { 200: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const taskId = request.params.task_id;
      const reason = request.query.reason ?? null;
      const message = await tasks.reject(taskId, taskActorOf(request.principal), reason);
      await audit.record(request, { action: "task.reject", target: `task:${taskId}`, detail: { reason } });
      return { message };
    },
  );
};
