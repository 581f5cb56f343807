/**
 * Terminal WebSockets. For a task or VPS the host relays the JSON frames to the runner of its node. For an
 * environment container it runs the terminal itself on its own Engine.
 */

import { closeSocket, runTerminalSession } from "@kohakuriver/access";
import { ContainerNameParamsSchema, KohakuRiverError, TaskIdParamsSchema, terminalErrorFrame } from "@kohakuriver/api";
import type { Logger } from "@kohakuriver/common";
import type Docker from "dockerode";
import type { FastifyPluginAsync } from "fastify";

import { resolveRunningEnvironmentContainer } from "../../sessions/environment-containers.js";
import { CLOSE_FAILED, CLOSE_REFUSED, type RunnerRelay } from "../../sessions/runner-relay.js";

export interface TerminalRoutesOptions {
  relay: RunnerRelay;
  /** The host's own Engine, where environment containers run. */
  hostDocker: Docker;
  logger: Logger;
}

export const terminalRoutes: FastifyPluginAsync<TerminalRoutesOptions> = async (app, options) => {
  app.get(
    "/ws/task/:task_id/terminal",
    { websocket: true, schema: { params: TaskIdParamsSchema } },
    async (socket, request) => {
      const taskId = (request.params as { task_id: string }).task_id;
      await options.relay.relay(socket, {
        taskId,
        purpose: "terminal",
        runnerPath: () => `/ws/task/${taskId}/terminal`,
        errorMessage: terminalErrorFrame,
      });
    },
  );

  app.get(
    "/ws/docker/host/containers/:container_name/terminal",
    { websocket: true, schema: { params: ContainerNameParamsSchema } },
    async (socket, request) => {
      const given = (request.params as { container_name: string }).container_name;
      const logger = options.logger.child({ container: given, purpose: "terminal" });
      try {
        const target = await resolveRunningEnvironmentContainer(options.hostDocker, given);
        await runTerminalSession({
          container: target.container,
          socket,
          label: `environment container ${target.name}`,
          logger,
        });
      } catch (error) {
        const known = error instanceof KohakuRiverError;
        if (!known) logger.warn({ error: String(error) }, "environment terminal failed");
        const message = known ? error.detail : `the terminal could not start: ${String(error)}`;
        if (socket.readyState === socket.OPEN) socket.send(terminalErrorFrame(message));
        closeSocket(socket, known ? CLOSE_REFUSED : CLOSE_FAILED, message);
      }
    },
  );
};
