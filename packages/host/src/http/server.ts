/** Builds the host's Fastify application: validation from zod schemas, OpenAPI at /openapi.json, docs at /docs. */

import fastifyCookie from "@fastify/cookie";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import fastifyWebsocket from "@fastify/websocket";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "@kohakuriver/access";
import { installErrorHandler, serverOptions, type Logger } from "@kohakuriver/common";
import Fastify, { type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";

import { installAccessControl, type RegisteredRoute } from "../auth/access-control.js";
import type { AccountService } from "../auth/account-service.js";
import type { AuditLog } from "../auth/audit-log.js";
import type { HostConfig } from "../config.js";
import { HOST_VERSION } from "../version.js";
import { approvalRoutes } from "./routes/approval.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { environmentRoutes, type EnvironmentRoutesOptions } from "./routes/environments.js";
import { fileRoutes, type FileRoutesOptions } from "./routes/files.js";
import { nodeRoutes, type NodeRoutesOptions } from "./routes/nodes.js";
import { runnerFacingRoutes, type RunnerFacingRoutesOptions } from "./routes/runner-facing.js";
import { taskRoutes, type TaskRoutesOptions } from "./routes/tasks.js";
import { forwardRoutes } from "./routes/forward.js";
import { terminalRoutes, type TerminalRoutesOptions } from "./routes/terminal.js";
import { vpsAssignmentRoutes } from "./routes/vps-assignments.js";
import { vpsRoutes, type VpsRoutesOptions } from "./routes/vps.js";

export type HostServerOptions = TaskRoutesOptions &
  NodeRoutesOptions &
  RunnerFacingRoutesOptions &
  VpsRoutesOptions &
  EnvironmentRoutesOptions &
  FileRoutesOptions &
  Omit<TerminalRoutesOptions, "logger"> & {
    logger: Logger;
    config: HostConfig;
    accounts: AccountService;
    audit: AuditLog;
  };

export interface HostServer {
  app: FastifyInstance;
  /** Every route registered, as the access-control hook saw it. */
  routes: readonly RegisteredRoute[];
}

export async function buildHostServer(options: HostServerOptions): Promise<HostServer> {
  const app = Fastify({ ...serverOptions(options.logger), routerOptions: { maxParamLength: 300 } });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);

  // Upgrade requests pass the access-control hook like any request, so a refused caller gets its 401 or
  // 403 as an HTTP response and never a socket. The plugin comes first: its own hooks must see every
  // upgrade request, the refused ones included, to close their connections after the response.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: DEFAULT_MAX_PAYLOAD_BYTES, perMessageDeflate: false },
  });
  // Access control is installed before every route, so that its onRoute hook receives them all.
  await app.register(fastifyCookie);
  const routes = installAccessControl(app, {
    config: options.config,
    clusterToken: options.clusterToken,
    store: options.store,
    logger: options.logger.child({ component: "access" }),
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "KohakuRiver host API",
        version: HOST_VERSION,
        description: "Submit and manage command tasks and VPS sessions, list nodes; runners register and report here.",
      },
      tags: [
        { name: "tasks", description: "Command tasks" },
        { name: "vps", description: "VPS sessions and their snapshots" },
        { name: "nodes", description: "Nodes and their health" },
        { name: "auth", description: "Accounts, API tokens, invitations and the audit log" },
        { name: "runners", description: "Called by runners with the cluster token" },
        { name: "environments", description: "Environment containers, tarballs and node images" },
        { name: "files", description: "Files in running task, VPS and environment containers" },
      ],
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "An API token, or the cluster token for runners" },
          session: { type: "apiKey", in: "cookie", name: "kohakuriver_session" },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  await app.register(taskRoutes, options);
  await app.register(approvalRoutes, options);
  await app.register(vpsRoutes, options);
  await app.register(nodeRoutes, options);
  await app.register(runnerFacingRoutes, options);
  await app.register(authRoutes, options);
  await app.register(auditRoutes, options);
  await app.register(vpsAssignmentRoutes, options);
  await app.register(environmentRoutes, options);
  await app.register(terminalRoutes, { ...options, logger: options.logger.child({ component: "sessions" }) });
  await app.register(forwardRoutes, options);
  await app.register(fileRoutes, options);

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  app.get("/api/version", { schema: { hide: true } }, async () => ({ version: HOST_VERSION }));
  return { app, routes };
}
