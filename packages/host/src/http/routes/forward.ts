/**
 * The port-forward WebSocket. The host checks the port and protocol, then relays the session to the
 * runner of the task's node unchanged: the text handshake ("CONNECTED" or "Error: …") and the binary
 * tunnel frames.
 */

import { ForwardParamsSchema, ForwardQuerySchema, tunnelErrorMessage, type ForwardProtocol } from "@kohakuriver/api";
import type { FastifyPluginAsync } from "fastify";

import type { RunnerRelay } from "../../sessions/runner-relay.js";

export interface ForwardRoutesOptions {
  relay: RunnerRelay;
}

export const forwardRoutes: FastifyPluginAsync<ForwardRoutesOptions> = async (app, options) => {
  app.get(
    "/ws/forward/:task_id/:port",
    { websocket: true, schema: { params: ForwardParamsSchema, querystring: ForwardQuerySchema } },
    async (socket, request) => {
      const { task_id: taskId, port } = request.params as { task_id: string; port: number };
      const { proto } = request.query as { proto: ForwardProtocol };
      await options.relay.relay(socket, {
        taskId,
        purpose: "forward",
        runnerPath: () => `/ws/forward/${taskId}/${port}?proto=${proto}`,
        errorMessage: tunnelErrorMessage,
      });
    },
  );
};
