/** GET /api/audit: the audit log for admins, newest first, with filters. */

import { AuditEntrySchema, AuditQuerySchema, ErrorBodySchema } from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import type { Store } from "../../store/types.js";

export const auditRoutes: FastifyPluginAsyncZod<{ store: Store }> = async (app, { store }) => {
  app.get(
    "/api/audit",
    {
      schema: {
        tags: ["auth"],
        summary:
          "Audit log, newest first; filter by action, actor (username), target, success, since and until (ISO-8601)",
        querystring: AuditQuerySchema,
        response: { 200: z.array(AuditEntrySchema), 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema },
      },
    },
    async (request) => {
      const { action, actor, target, success, since, until, limit, offset } = request.query;
      return store.auth.listAudit({
        ...(action === undefined ? {} : { action }),
        ...(actor === undefined ? {} : { actorUsername: actor }),
        ...(target === undefined ? {} : { target }),
        ...(success === undefined ? {} : { success: success === "true" }),
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
        limit,
        offset,
      });
    },
  );
};
