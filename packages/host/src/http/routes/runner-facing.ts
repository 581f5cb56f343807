/**
 * Routes that runners call: registration, heartbeats and task status reports. All need the cluster token,
 * which the access-control hook checks (their policy is `cluster`).
 */

import {
  ErrorBodySchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  RegisterRequestSchema,
  RegisterResponseSchema,
  TaskStatusUpdateResponseSchema,
  TaskStatusUpdateSchema,
} from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { NodeRegistry } from "../../nodes/node-registry.js";
import type { TaskService } from "../../tasks/task-service.js";

export interface RunnerFacingRoutesOptions {
  nodes: NodeRegistry;
  tasks: TaskService;
  clusterToken: string;
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema };

export const runnerFacingRoutes: FastifyPluginAsyncZod<RunnerFacingRoutesOptions> = async (app, options) => {
  app.post(
    "/api/register",
    {
      schema: {
        tags: ["runners"],
        summary: "Register a runner (cluster token required)",
        body: RegisterRequestSchema,
        response: { 200: RegisterResponseSchema, ...errors },
      },
    },
    async (request) => options.nodes.register(request.body),
  );

  app.put(
    "/api/heartbeat/:hostname",
    {
      schema: {
        tags: ["runners"],
        summary: "Runner heartbeat with metrics and the tasks it runs (cluster token required)",
        params: z.object({ hostname: z.string().max(253) }),
        body: HeartbeatRequestSchema,
        response: { 200: HeartbeatResponseSchema, ...errors },
      },
    },
    async (request) => options.nodes.heartbeat(request.params.hostname, request.body),
  );

  app.post(
    "/api/update",
    {
      schema: {
        tags: ["runners"],
        summary: "Task status report from a runner (cluster token required)",
        body: TaskStatusUpdateSchema,
        response: { 200: TaskStatusUpdateResponseSchema, ...errors },
      },
    },
    async (request) => options.tasks.applyRunnerUpdate(request.body),
  );
};
