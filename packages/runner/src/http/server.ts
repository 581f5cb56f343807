/**
 * The runner's API, called only by the host with the cluster token: execute, kill, pause, resume, and the
 * VPS lifecycle and snapshots.
 */

import {
  EnvironmentParamsSchema,
  ErrorBodySchema,
  ConflictError,
  MessageSchema,
  RunnerImageListSchema,
  SyncResponseSchema,
  NotFoundError,
  RunnerVpsCreateRequestSchema,
  RunnerVpsStopRequestSchema,
  SnapshotCreateQuerySchema,
  SnapshotListSchema,
  SnapshotParamsSchema,
  TaskIdParamsSchema,
  TaskControlRequestSchema,
  TaskExecuteRequestSchema,
  TaskExecuteResponseSchema,
} from "@kohakuriver/api";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "@kohakuriver/access";
import { installErrorHandler, requireClusterToken, serverOptions, type Logger } from "@kohakuriver/common";
import fastifyWebsocket from "@fastify/websocket";
import type Docker from "dockerode";
import Fastify, { type FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";

import type { WorkloadDriver } from "../driver/types.js";
import { EnvironmentSyncError, type EnvironmentSync } from "../environments/environment-sync.js";
import { WorkloadContainers } from "../sessions/workload-containers.js";
import { sessionRoutes } from "../sessions/session-routes.js";
import type { RunnerState } from "../state/runner-state.js";
import type { TaskExecutor } from "../tasks/task-executor.js";
import type { VpsManager } from "../vps/vps-manager.js";

export interface RunnerServerOptions {
  executor: TaskExecutor;
  vps: VpsManager;
  state: RunnerState;
  clusterToken: string;
  nodeName: string;
  logger: Logger;
  driver: WorkloadDriver;
  environments: EnvironmentSync;
  /** The Engine that runs this node's workloads, for terminals, port forwarding and the file API. */
  docker: Docker;
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

export async function buildRunnerServer(options: RunnerServerOptions): Promise<FastifyInstance> {
  const { executor, state, vps } = options;
  const isVps = (taskId: string): boolean => state.get(taskId)?.task_type === "vps";
  const app = Fastify(serverOptions(options.logger)).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  // WebSockets (terminal, port forwarding, change watching) are upgraded only after the token check below.
  // The plugin is registered first, so that its hooks also close the connections of refused upgrades.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: DEFAULT_MAX_PAYLOAD_BYTES, perMessageDeflate: false },
  });
  // Checked on arrival, before the body is read, so an unauthenticated caller learns nothing about the API.
  app.addHook("onRequest", requireClusterToken(options.clusterToken));
  await app.register(sessionRoutes, {
    containers: new WorkloadContainers({ state, docker: options.docker }),
    logger: options.logger.child({ component: "sessions" }),
  });

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
      const taskId = request.body.task_id;
      const known = isVps(taskId) ? await vps.kill(taskId) : await executor.kill(taskId);
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

  app.post(
    "/api/vps/create",
    { schema: { body: RunnerVpsCreateRequestSchema, response: { 202: TaskExecuteResponseSchema, ...errors } } },
    async (request, reply) => {
      const { alreadyAccepted } = await vps.accept(request.body);
      return reply.status(202).send({
        message: alreadyAccepted ? "VPS already accepted." : "VPS accepted for creation.",
        task_id: request.body.task_id,
        already_accepted: alreadyAccepted,
      });
    },
  );

  app.post(
    "/api/vps/stop/:task_id",
    {
      schema: {
        params: TaskIdParamsSchema,
        body: RunnerVpsStopRequestSchema.optional(),
        response: { 200: MessageSchema, ...errors },
      },
    },
    async (request) => {
      const taskId = request.params.task_id;
      if (!(await vps.stop(taskId, request.body?.snapshot ?? null, request.body?.keep ?? null))) {
        throw new NotFoundError(`VPS ${taskId} is not on node ${options.nodeName}`);
      }
      return { message: `VPS ${taskId} stopped.` };
    },
  );

  for (const command of ["pause", "resume"] as const) {
    app.post(
      `/api/vps/${command}/:task_id`,
      { schema: { params: TaskIdParamsSchema, response: { 200: MessageSchema, ...errors } } },
      async (request) => {
        const taskId = request.params.task_id;
        const done = command === "pause" ? await executor.pause(taskId) : await executor.resume(taskId);
        if (!done || !isVps(taskId))
          throw new NotFoundError(`VPS ${taskId} is not running on node ${options.nodeName}`);
        return { message: `VPS ${taskId} ${command}d.` };
      },
    );
  }

  app.get(
    "/api/vps/snapshots/:task_id",
    { schema: { params: TaskIdParamsSchema, response: { 200: SnapshotListSchema, ...errors } } },
    async (request) => {
      const snapshots = await vps.listSnapshots(request.params.task_id);
      return { task_id: request.params.task_id, snapshots, count: snapshots.length };
    },
  );

  app.get(
    "/api/vps/snapshots/:task_id/latest",
    {
      schema: {
        params: TaskIdParamsSchema,
        response: { 200: z.object({ task_id: z.string(), tag: z.string() }), ...errors },
      },
    },
    async (request) => {
      const newest = (await vps.listSnapshots(request.params.task_id))[0];
      if (newest === undefined) throw new NotFoundError(`VPS ${request.params.task_id} has no snapshots on this node`);
      return { task_id: request.params.task_id, tag: newest.tag };
    },
  );

  app.post(
    "/api/vps/snapshots/:task_id",
    {
      schema: {
        params: TaskIdParamsSchema,
        querystring: SnapshotCreateQuerySchema,
        response: { 200: z.object({ message: z.string(), tag: z.string() }), ...errors },
      },
    },
    async (request) => {
      const tag = await vps.createSnapshot(request.params.task_id, request.query.message ?? null);
      return { message: `Snapshot ${tag} created.`, tag };
    },
  );

  app.delete(
    "/api/vps/snapshots/:task_id/:timestamp",
    { schema: { params: SnapshotParamsSchema, response: { 200: MessageSchema, ...errors } } },
    async (request) => {
      await vps.deleteSnapshot(request.params.task_id, Number(request.params.timestamp));
      return { message: `Snapshot ${request.params.timestamp} of VPS ${request.params.task_id} deleted.` };
    },
  );

  app.delete(
    "/api/vps/snapshots/:task_id",
    {
      schema: {
        params: TaskIdParamsSchema,
        response: { 200: z.object({ message: z.string(), deleted_count: z.number() }), ...errors },
      },
    },
    async (request) => {
      const deleted = await vps.deleteAllSnapshots(request.params.task_id);
      const noun = deleted === 1 ? "snapshot" : "snapshots";
      return { message: `Deleted ${deleted} ${noun} of VPS ${request.params.task_id}.`, deleted_count: deleted };
    },
  );

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
