/** Node routes: the node list and the health history. */

import { ErrorBodySchema, HealthResponseSchema, NodeResponseSchema, NotFoundError } from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { NodeRegistry } from "../../nodes/node-registry.js";
import { toNodeHealth, toNodeResponse, type HealthHistory } from "../../nodes/node-view.js";
import type { ResourceLedger } from "../../scheduler/ledger.js";

export interface NodeRoutesOptions {
  nodes: NodeRegistry;
  ledger: ResourceLedger;
  health: HealthHistory;
}

export const nodeRoutes: FastifyPluginAsyncZod<NodeRoutesOptions> = async (app, { nodes, ledger, health }) => {
  app.get(
    "/api/nodes",
    { schema: { tags: ["nodes"], summary: "List registered nodes", response: { 200: z.array(NodeResponseSchema) } } },
    async () => nodes.list().map((record) => toNodeResponse(record, ledger)),
  );

  app.get(
    "/api/health",
    {
      schema: {
        tags: ["nodes"],
        summary: "Health history of all nodes (last 60 s), or the latest sample of one node with ?hostname=",
        querystring: z.object({ hostname: z.string().max(253).optional() }),
        response: { 200: HealthResponseSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => {
      const hostname = request.query.hostname;
      if (hostname === undefined) return health.history();
      const record = nodes.get(hostname);
      if (record === undefined) throw new NotFoundError(`node ${hostname} not found`);
      return [toNodeHealth(record)];
    },
  );
};
