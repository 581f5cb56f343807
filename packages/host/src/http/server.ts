/** Builds the host's Fastify application: validation from zod schemas, OpenAPI at /openapi.json, docs at /docs. */

import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { installErrorHandler, serverOptions, type Logger } from "@kohakuriver/common";
import Fastify, { type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";

import { HOST_VERSION } from "../version.js";
import { environmentRoutes, type EnvironmentRoutesOptions } from "./routes/environments.js";
import { nodeRoutes, type NodeRoutesOptions } from "./routes/nodes.js";
import { runnerFacingRoutes, type RunnerFacingRoutesOptions } from "./routes/runner-facing.js";
import { taskRoutes, type TaskRoutesOptions } from "./routes/tasks.js";

export type HostServerOptions = TaskRoutesOptions &
  NodeRoutesOptions &
  RunnerFacingRoutesOptions &
  EnvironmentRoutesOptions & { logger: Logger };

export async function buildHostServer(options: HostServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ ...serverOptions(options.logger), routerOptions: { maxParamLength: 300 } });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "KohakuRiver host API",
        version: HOST_VERSION,
        description: "Submit and manage command tasks, list nodes; runners register and report here.",
      },
      tags: [
        { name: "tasks", description: "Command tasks" },
        { name: "nodes", description: "Nodes and their health" },
        { name: "runners", description: "Called by runners with the cluster token" },
        { name: "environments", description: "Environment containers, tarballs and node images" },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  await app.register(taskRoutes, options);
  await app.register(nodeRoutes, options);
  await app.register(runnerFacingRoutes, options);
  await app.register(environmentRoutes, options);

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  app.get("/api/version", { schema: { hide: true } }, async () => ({ version: HOST_VERSION }));
  return app;
}
