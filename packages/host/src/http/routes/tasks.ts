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
  ErrorBodySchema,
} from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { Store } from "../../store/types.js";
import { readLog } from "../../tasks/log-reader.js";
import type { TaskService } from "../../tasks/task-service.js";
import { toTaskResponse } from "../../tasks/task-view.js";

export interface TaskRoutesOptions {
  tasks: TaskService;
  store: Store;
}

const errors = { 400: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 503: ErrorBodySchema };

export const taskRoutes: FastifyPluginAsyncZod<TaskRoutesOptions> = async (app, { tasks, store }) => {
  app.post(
    "/api/submit",
    {
      schema: {
        tags: ["tasks"],
        summary: "Submit a command task (one per target; several targets make a batch)",
        body: TaskSubmissionSchema,
        response: { 202: SubmitResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const records = await tasks.submit(request.body);
      const ids = records.map((record) => record.task_id);
      return reply.status(202).send({
        message: ids.length === 1 ? `Task ${ids[0]} submitted.` : `${ids.length} tasks submitted as batch ${ids[0]}.`,
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
        response: { 200: TaskResponseSchema, ...errors },
      },
    },
    async (request) => toTaskResponse(await tasks.get(request.params.task_id)),
  );

  app.get(
    "/api/tasks",
    {
      schema: {
        tags: ["tasks"],
        summary: "List command tasks, newest first",
        querystring: TaskListQuerySchema,
        response: { 200: TaskListResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { status, node, limit, offset } = request.query;
      const records = await store.listTasks({
        taskType: "command",
        ...(status === undefined ? {} : { statuses: [status] }),
        ...(node === undefined ? {} : { node }),
        limit,
        offset,
        order: "newest",
      });
      return records.map(toTaskResponse);
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
          response: { 200: z.string(), ...errors },
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
        response: { 202: MessageSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(202).send({ message: await tasks.kill(request.params.task_id) }),
  );

  app.post(
    "/api/command/:task_id/:command",
    {
      schema: {
        tags: ["tasks"],
        summary: "Pause a running task or resume a paused one",
        params: TaskControlParamsSchema,
        response: { 200: MessageSchema, ...errors },
      },
    },
    async (request) => ({ message: await tasks.control(request.params.task_id, request.params.command) }),
  );
};
