/** The runner's API, called only by the host with the cluster token: execute, kill, pause, resume. */

import {
  EnvironmentParamsSchema,
  ErrorBodySchema,
  ConflictError,
  MessageSchema,
  RunnerImageListSchema,
  SyncResponseSchema,
  NotFoundError,
  TaskControlRequestSchema,
  TaskExecuteRequestSchema,
  TaskExecuteResponseSchema,
} from "@kohakuriver/api";
import { installErrorHandler, requireClusterToken, serverOptions, type Logger } from "@kohakuriver/common";
import Fastify, { type FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";

import type { WorkloadDriver } from "../driver/types.js";
import { EnvironmentSyncError, type EnvironmentSync } from "../environments/environment-sync.js";
import type { RunnerState } from "../state/runner-state.js";
import type { TaskExecutor } from "../tasks/task-executor.js";

export interface RunnerServerOptions {
  executor: TaskExecutor;
  state: RunnerState;
  clusterToken: string;
  nodeName: string;
  logger: Logger;
  driver: WorkloadDriver;
  environments: EnvironmentSync;
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

export async function buildRunnerServer(options: RunnerServerOptions): Promise<FastifyInstance> {
  const { executor, state } = options;
  const app = Fastify(serverOptions(options.logger)).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  // Checked on arrival, before the body is read, so an unauthenticated caller learns nothing about the API.
  app.addHook("onRequest", requireClusterToken(options.clusterToken));

  app.post(
    "/api/execute",
    { schema: { body: TaskExecuteRequestSchema, response: { 202: TaskExecuteResponseSchema, ...errors } } },
    async (request, reply) => {
      const { alreadyAccepted } = await executor.accept(request.body);
      return reply.status(202).send({
        message: alreadyAccepted ? "Task already accepted." : "Task accepted for launch",
        task_id: request.body.task_id,
        already_accepted: alreadyAccepted,
      });
    },
  );

  app.post(
    "/api/kill",
    { schema: { body: TaskControlRequestSchema, response: { 200: MessageSchema, ...errors } } },
    async (request) => {
      const known = await executor.kill(request.body.task_id);
      return {
        message: known
          ? `Task ${request.body.task_id} killed.`
          : `Task ${request.body.task_id} is not on this node; nothing to kill.`,
      };
    },
  );

  for (const command of ["pause", "resume"] as const) {
    app.post(
      `/api/${command}`,
      { schema: { body: TaskControlRequestSchema, response: { 200: MessageSchema, ...errors } } },
      async (request) => {
        const taskId = request.body.task_id;
        const done = command === "pause" ? await executor.pause(taskId) : await executor.resume(taskId);
        if (!done) throw new NotFoundError(`task ${taskId} is not running on node ${options.nodeName}`);
        return { message: `Task ${taskId} ${command}d.` };
      },
    );
  }

  app.get(
    "/api/tasks",
    {
      schema: {
        response: { 200: z.array(z.object({ task_id: z.string(), phase: z.string(), finished: z.boolean() })) },
      },
    },
    async () =>
      state
        .list()
        .map((entry) => ({ task_id: entry.task_id, phase: entry.phase, finished: entry.final_report !== null })),
  );

  app.get("/api/docker/images", { schema: { response: { 200: RunnerImageListSchema, ...errors } } }, async () => ({
    images: (await options.driver.listImages()).map((image) => ({
      id: image.id,
      tags: image.tags,
      created: image.created,
      size: image.sizeBytes,
    })),
  }));

  app.post(
    "/api/docker/sync/:env_name",
    { schema: { params: EnvironmentParamsSchema, response: { 200: SyncResponseSchema, ...errors } } },
    async (request) => {
      const environment = request.params.env_name;
      let result;
      try {
        result = await options.environments.ensure(environment);
      } catch (error) {
        if (error instanceof EnvironmentSyncError) throw new ConflictError(error.message);
        throw error;
      }
      if (result.timestamp === null) throw new NotFoundError(`no tarball of environment ${environment}`);
      return {
        message: result.loaded ? `Environment ${environment} loaded.` : `Environment ${environment} is up to date.`,
        synced: result.loaded,
        ...(result.source === null ? {} : { source: result.source }),
      };
    },
  );

  app.get("/api/health", async () => ({ status: "ok", node: options.nodeName }));
  return app as unknown as FastifyInstance;
}
