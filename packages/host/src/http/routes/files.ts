/**
 * The file API and the change-watch WebSocket. For a task or VPS the host relays each request to the
 * runner of its node. For an environment container it runs the operations itself on its own Engine.
 */

import { ContainerFiles } from "@kohakuriver/access";
import { ContainerNameParamsSchema, FileWatchQuerySchema, TaskIdParamsSchema, watchErrorFrame } from "@kohakuriver/api";
import { registerFileRoutes } from "@kohakuriver/common";
import type Docker from "dockerode";
import type { FastifyPluginAsync } from "fastify";

import type { RunnerClient } from "../../dispatch/runner-client.js";
import { resolveRunningEnvironmentContainer } from "../../sessions/environment-containers.js";
import type { RunnerRelay } from "../../sessions/runner-relay.js";
import { RunnerFiles } from "../../sessions/runner-files.js";
import type { TaskTargets } from "../../sessions/task-target.js";

export interface FileRoutesOptions {
  relay: RunnerRelay;
  runners: RunnerClient;
  /** Finds where a running task lives. */
  targets: TaskTargets;
  /** The host's own Engine, where environment containers run. */
  hostDocker: Docker;
}

export const fileRoutes: FastifyPluginAsync<FileRoutesOptions> = async (app, options) => {
  const { targets } = options;

  registerFileRoutes(app, {
    prefix: "/api/fs/:task_id",
    params: TaskIdParamsSchema,
    operations: async (request) => {
      const taskId = (request.params as { task_id: string }).task_id;
      return new RunnerFiles(options.runners, await targets.resolveRunning(taskId));
    },
  });

  registerFileRoutes(app, {
    prefix: "/api/fs/container/:container_name",
    params: ContainerNameParamsSchema,
    operations: async (request) => {
      const given = (request.params as { container_name: string }).container_name;
      const target = await resolveRunningEnvironmentContainer(options.hostDocker, given);
      return new ContainerFiles(target.container, `environment container ${target.name}`);
    },
  });

  app.get(
    "/ws/fs/:task_id/watch",
    { websocket: true, schema: { params: TaskIdParamsSchema, querystring: FileWatchQuerySchema } },
    async (socket, request) => {
      const taskId = (request.params as { task_id: string }).task_id;
      const paths = (request.query as { paths?: string }).paths;
      await options.relay.relay(socket, {
        taskId,
        purpose: "file watch",
        runnerPath: () =>
          `/ws/fs/${taskId}/watch${paths === undefined ? "" : `?${new URLSearchParams({ paths }).toString()}`}`,
        errorMessage: watchErrorFrame,
      });
    },
  );
};
