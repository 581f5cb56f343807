/** User-facing task routes: submit, status, list, logs, kill, pause and resume. */

import {
  InvalidInputError,
  LogQuerySchema,
  MessageSchema,
  SubmitResponseSchema,
  TaskControlParamsSchema,
  TaskIdParamsSchema,
  TaskListQuerySchema,
  TaskListResponseSchema,
  TaskResponseSchema,
  TaskSubmissionSchema,
  type TaskResponse,
  type TaskStatus,
} from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { AuditLog } from "../../auth/audit-log.js";
import { requireAdminForHostAccess, taskActorOf } from "../../auth/principal.js";
import type { Store } from "../../store/types.js";
import { readLog } from "../../tasks/log-reader.js";
import type { TaskService } from "../../tasks/task-service.js";
import { toTaskResponse, toTaskResponses } from "../../tasks/task-view.js";
import { ERROR_RESPONSES } from "./error-responses.js";

export interface TaskRoutesOptions {
  tasks: TaskService;
  store: Store;
  audit: AuditLog;
}

export const taskRoutes: FastifyPluginAsyncZod<TaskRoutesOptions> = async (app, { tasks, store, audit }) => {
  app.post(
    "/api/submit",
    {
      schema: {
        tags: ["tasks"],
        summary: "Submit a command task (one per target; several targets make a batch)",
        body: TaskSubmissionSchema,
        response: { 202: SubmitResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      const body = request.body;
      requireAdminForHostAccess(principal, body);

      const actor = taskActorOf(principal);
      const records = await tasks.submit(body, actor);
      const ids = records.map((record) => record.task_id);
      await audit.record(request, {
        action: "task.submit",
        target: `task:${ids[0]}`,
        detail: { task_ids: ids, command: body.command.slice(0, 200), needs_approval: actor.needsApproval },
      });
      const waiting = actor.needsApproval ? " It waits for an operator's approval." : "";
      return reply.status(202).send({
        message:
          (ids.length === 1 ? `Task ${ids[0]} submitted.` : `${ids.length} tasks submitted as batch ${ids[0]}.`) +
          waiting,
        task_ids: ids,
        batch_id: records[0]?.batch_id ?? ids[0] ?? "",
      });
    },
  );

  app.get(
    "/api/status/:task_id",
    {
      schema: {
        tags: ["tasks"],
        summary: "Get one task",
        params: TaskIdParamsSchema,
        response: { 200: TaskResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => toTaskResponse(store, await tasks.get(request.params.task_id)),
  );

  app.get(
    "/api/tasks",
    {
      schema: {
        tags: ["tasks"],
        summary: "List command tasks, newest first",
        querystring: TaskListQuerySchema,
        response: { 200: TaskListResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => listCommandTasks(store, request.query),
  );

  app.get(
    "/api/tasks/my",
    {
      schema: {
        tags: ["tasks"],
        summary: "List the caller's command tasks, newest first",
        querystring: TaskListQuerySchema,
        response: { 200: TaskListResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const ownerId = taskActorOf(request.principal).accountId;
      // Without an account (authentication disabled) no task has an owner, so the list is empty.
      if (ownerId === null) return [];
      return listCommandTasks(store, request.query, ownerId);
    },
  );

  for (const stream of ["stdout", "stderr"] as const) {
    app.get(
      `/api/tasks/:task_id/${stream}`,
      {
        schema: {
          tags: ["tasks"],
          summary:
            `Read a task's ${stream}: the end of it (at most 16 MiB), its last N lines with ?lines=N, or the bytes ` +
            "from ?offset=N on. X-Log-End-Offset gives the offset to ask for next and X-Log-Size the file size.",
          params: TaskIdParamsSchema,
          querystring: LogQuerySchema,
          response: { 200: z.string(), ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const task = await tasks.get(request.params.task_id);
        if (task.task_type === "vps")
          throw new InvalidInputError(`task ${task.task_id} is a VPS; VPS sessions have no ${stream} log`);
        const path = stream === "stdout" ? task.stdout_path : task.stderr_path;
        const slice = await readLog(path, { lines: request.query.lines, offset: request.query.offset });
        return reply
          .header("x-log-end-offset", String(slice.endOffset))
          .header("x-log-size", String(slice.size))
          .type("text/plain; charset=utf-8")
          .send(slice.text);
      },
    );
  }

  app.post(
    "/api/kill/:task_id",
    {
      schema: {
        tags: ["tasks"],
        summary: "Kill a task",
        params: TaskIdParamsSchema,
        response: { 202: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const message = await tasks.kill(request.params.task_id);
      await audit.record(request, { action: "task.kill", target: `task:${request.params.task_id}` });
      return reply.status(202).send({ message });
    },
  );

  app.post(
    "/api/command/:task_id/:command",
    {
      schema: {
        tags: ["tasks"],
        summary: "Pause a running task or resume a paused one",
        params: TaskControlParamsSchema,
        response: { 200: MessageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { task_id: taskId, command } = request.params;
      const message = await tasks.control(taskId, command);
      await audit.record(request, { action: `task.${command}`, target: `task:${taskId}` });
      return { message };
    },
  );
};

async function listCommandTasks(
  store: Store,
  query: { status?: TaskStatus | undefined; node?: string | undefined; limit: number; offset: number },
  ownerId?: number,
): Promise<TaskResponse[]> {
  const { status, node, limit, offset } = query;
  const records = await store.listTasks({
    taskType: "command",
    ...(ownerId === undefined ? {} : { ownerId }),
    ...(status === undefined ? {} : { statuses: [status] }),
    ...(node === undefined ? {} : { node }),
    limit,
    offset,
    order: "newest",
  });
  return toTaskResponses(store, records);
}
