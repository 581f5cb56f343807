/**
 * The runner's routes that reach into a running task or VPS container, all behind the cluster token:
 * the terminal, port-forward and change-watch WebSockets, and the file API.
 * A missing or stopped container is refused with an HTTP error before any WebSocket upgrade, so the host
 * can relay the reason.
 */

import {
  ContainerFiles,
  closeSocket,
  runForwardSession,
  runTerminalSession,
  runWatchSession,
} from "@kohakuriver/access";
import {
  ConflictError,
  FileWatchQuerySchema,
  ForwardParamsSchema,
  ForwardQuerySchema,
  TaskIdParamsSchema,
  terminalErrorFrame,
  watchErrorFrame,
  type ForwardProtocol,
} from "@kohakuriver/api";
import { registerFileRoutes, type Logger } from "@kohakuriver/common";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type WebSocket from "ws";

import { containerNetworkAddress, type WorkloadContainer, type WorkloadContainers } from "./workload-containers.js";

export interface SessionRoutesOptions {
  containers: WorkloadContainers;
  logger: Logger;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The running container of the task in the path, resolved before the handler runs. */
    workload: WorkloadContainer | null;
  }
}

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (app, options) => {
  const { containers, logger } = options;
  app.decorateRequest("workload", null);
  const resolveWorkload = async (request: FastifyRequest): Promise<void> => {
    request.workload = await containers.resolveRunning((request.params as { task_id: string }).task_id);
  };

  app.get(
    "/ws/task/:task_id/terminal",
    { websocket: true, schema: { params: TaskIdParamsSchema }, preHandler: resolveWorkload },
    async (socket, request) => {
      const workload = request.workload as WorkloadContainer;
      const sessionLogger = logger.child({ taskId: workload.taskId, purpose: "terminal" });
      await reportFailure(socket, sessionLogger, "terminal", terminalErrorFrame, () =>
        runTerminalSession({
          container: workload.container,
          socket,
          label: `task ${workload.taskId}`,
          logger: sessionLogger,
        }),
      );
    },
  );

  // Port forwarding connects to the container's address on its Docker network, so a container without
  // one is refused before the upgrade.
  const resolveForwardTarget = async (request: FastifyRequest): Promise<void> => {
    await resolveWorkload(request);
    const workload = request.workload as WorkloadContainer;
    if (containerNetworkAddress(workload.info) === null) {
      throw new ConflictError(
        `task ${workload.taskId} has no IP address on a Docker network (network mode ` +
          `${workload.info.HostConfig.NetworkMode ?? "unknown"}); port forwarding needs a bridge network`,
      );
    }
  };

  app.get(
    "/ws/forward/:task_id/:port",
    {
      websocket: true,
      schema: { params: ForwardParamsSchema, querystring: ForwardQuerySchema },
      preHandler: resolveForwardTarget,
    },
    (socket, request) => {
      const workload = request.workload as WorkloadContainer;
      const { port } = request.params as { port: number };
      const { proto } = request.query as { proto: ForwardProtocol };
      const address = containerNetworkAddress(workload.info) as string;
      runForwardSession({
        socket,
        address,
        defaultPort: port,
        proto,
        logger: logger.child({ taskId: workload.taskId, purpose: "forward", port, proto }),
      });
    },
  );

  registerFileRoutes(app, {
    prefix: "/api/fs/:task_id",
    params: TaskIdParamsSchema,
    operations: async (request) => {
      const workload = await containers.resolveRunning((request.params as { task_id: string }).task_id);
      return new ContainerFiles(workload.container, `task ${workload.taskId}`);
    },
  });

  app.get(
    "/ws/fs/:task_id/watch",
    {
      websocket: true,
      schema: { params: TaskIdParamsSchema, querystring: FileWatchQuerySchema },
      preHandler: resolveWorkload,
    },
    async (socket, request) => {
      const workload = request.workload as WorkloadContainer;
      const sessionLogger = logger.child({ taskId: workload.taskId, purpose: "file watch" });
      await reportFailure(socket, sessionLogger, "watch", watchErrorFrame, () =>
        runWatchSession({
          container: workload.container,
          socket,
          label: `task ${workload.taskId}`,
          logger: sessionLogger,
          paths: (request.query as { paths?: string }).paths,
        }),
      );
    },
  );
};

/**
 * Runs a WebSocket session. When it fails to start, logs the error and sends it to the client in the
 * protocol's own error message, then closes the socket with 1011.
 */
async function reportFailure(
  socket: WebSocket,
  sessionLogger: Logger,
  what: string,
  errorFrame: (text: string) => string,
  run: () => Promise<void>,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    sessionLogger.warn({ error: String(error) }, `${what} session failed`);
    if (socket.readyState === socket.OPEN) socket.send(errorFrame(`the ${what} could not start: ${String(error)}`));
    closeSocket(socket, 1011, `the ${what} could not start`);
  }
}
