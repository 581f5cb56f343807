/**
 * Environment routes under /api/docker: setup containers on the host, published tarballs (list, create,
 * download with HTTP Range, delete) and the images on each runner.
 */

import { createReadStream } from "node:fs";

import {
  EnvironmentContainerListSchema,
  EnvironmentCreateRequestSchema,
  EnvironmentCreateResponseSchema,
  EnvironmentParamsSchema,
  ErrorBodySchema,
  MessageSchema,
  NodeImageListSchema,
  NotFoundError,
  RunnerImageListSchema,
  TarballCreateResponseSchema,
  TarballListSchema,
  type NodeImageList,
  type TarballList,
} from "@kohakuriver/api";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import { RunnerUnreachableError, responseDetail, type RunnerClient } from "../../dispatch/runner-client.js";
import type { EnvironmentService } from "../../environments/environment-service.js";
import { parseByteRange } from "../../environments/byte-range.js";
import type { ResourceLedger } from "../../scheduler/ledger.js";

export interface EnvironmentRoutesOptions {
  environments: EnvironmentService;
  ledger: ResourceLedger;
  runners: RunnerClient;
}

const errors = { 400: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 503: ErrorBodySchema };

/** A Docker container name, for migrating containers named before the kohakuriver-env- prefix. */
const LegacyContainerParamsSchema = z.object({
  old_name: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a Docker container name (letters, digits, '_', '.', '-')"),
});

/** A tarball name: an environment (newest version), `{env}-{ts}` (that version) or an unversioned file. */
const TarballParamsSchema = z.object({
  name: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be an environment name or {env}-{timestamp}, such as my-env"),
});

// Runners call GET /api/docker/list and GET /api/docker/container/{name} with the cluster token; the
// access policy table lets the cluster token through on those two routes.
export const environmentRoutes: FastifyPluginAsyncZod<EnvironmentRoutesOptions> = async (app, options) => {
  const { environments } = options;

  app.get(
    "/api/docker/host/containers",
    {
      schema: {
        tags: ["environments"],
        summary: "List environment containers (kohakuriver-env-*) on the host",
        response: { 200: EnvironmentContainerListSchema, ...errors },
      },
    },
    async () => environments.listContainers(),
  );

  app.post(
    "/api/docker/host/create",
    {
      schema: {
        tags: ["environments"],
        summary: "Create and start kohakuriver-env-{container_name} from an image (pulled when missing)",
        body: EnvironmentCreateRequestSchema,
        response: { 200: EnvironmentCreateResponseSchema, ...errors },
      },
    },
    async (request) => environments.createContainer(request.body.image_name, request.body.container_name),
  );

  for (const action of ["start", "stop", "delete"] as const) {
    app.post(
      `/api/docker/host/${action}/:env_name`,
      {
        schema: {
          tags: ["environments"],
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} an environment container`,
          params: EnvironmentParamsSchema,
          response: { 200: MessageSchema, ...errors },
        },
      },
      async (request) => {
        const name = request.params.env_name;
        if (action === "start") return { message: await environments.startContainer(name) };
        if (action === "stop") return { message: await environments.stopContainer(name) };
        return { message: await environments.deleteContainer(name) };
      },
    );
  }

  app.post(
    "/api/docker/host/migrate/:old_name",
    {
      schema: {
        tags: ["environments"],
        summary: "Rename a container from before the kohakuriver-env- prefix into an environment container",
        params: LegacyContainerParamsSchema,
        response: { 200: MessageSchema, ...errors },
      },
    },
    async (request) => ({ message: await environments.migrateContainer(request.params.old_name) }),
  );

  app.get(
    "/api/docker/list",
    {
      schema: {
        tags: ["environments"],
        summary: "List published tarballs per environment, newest first",
        response: { 200: TarballListSchema, ...errors },
      },
    },
    async () => {
      const result: TarballList = {};
      for (const [environment, versions] of await environments.tarballs.list()) {
        const newest = versions[0];
        if (newest === undefined) continue;
        result[environment] = {
          latest_timestamp: newest.timestamp,
          latest_tarball: newest.path,
          all_versions: versions.map((version) => ({
            timestamp: version.timestamp,
            tarball: version.path,
            size_bytes: version.sizeBytes,
          })),
        };
      }
      return result;
    },
  );

  app.post(
    "/api/docker/create_tar/:env_name",
    {
      schema: {
        tags: ["environments"],
        summary: "Commit an environment container and publish it as {env}-{unix_ts}.tar",
        params: EnvironmentParamsSchema,
        response: { 200: TarballCreateResponseSchema, ...errors },
      },
    },
    async (request) => environments.publish(request.params.env_name),
  );

  app.get(
    "/api/docker/container/:name",
    {
      schema: {
        tags: ["environments"],
        summary:
          "Download a tarball: {name}.tar, or the newest version of environment {name}. Supports Range: bytes=N- " +
          "to resume; X-Tarball-Timestamp gives the version.",
        params: TarballParamsSchema,
      },
    },
    async (request, reply) => {
      const version = await environments.tarballs.resolve(request.params.name);
      if (version === null) throw new NotFoundError(`no tarball named ${request.params.name}`);

      const range = parseByteRange(request.headers.range, version.sizeBytes);
      reply.header("accept-ranges", "bytes").header("x-tarball-timestamp", String(version.timestamp));
      if (range === "unsatisfiable") {
        return reply
          .status(416)
          .header("content-range", `bytes */${version.sizeBytes}`)
          .type("application/json")
          .send({
            detail: `Range ${request.headers.range ?? ""} is outside ${version.fileName} (${version.sizeBytes} bytes)`,
            code: "invalid_input",
          });
      }
      reply.type("application/x-tar").header("content-disposition", `attachment; filename="${version.fileName}"`);
      if (range === null) {
        reply.header("content-length", String(version.sizeBytes));
        return reply.send(createReadStream(version.path));
      }
      reply
        .status(206)
        .header("content-range", `bytes ${range.start}-${range.end}/${version.sizeBytes}`)
        .header("content-length", String(range.end - range.start + 1));
      return reply.send(createReadStream(version.path, { start: range.start, end: range.end }));
    },
  );

  app.delete(
    "/api/docker/container/:name",
    {
      schema: {
        tags: ["environments"],
        summary: "Delete every tarball of an environment",
        params: TarballParamsSchema,
        response: { 200: z.object({ message: z.string(), deleted: z.array(z.string()) }), ...errors },
      },
    },
    async (request) => {
      const deleted = await environments.tarballs.deleteAll(request.params.name);
      if (deleted.length === 0) throw new NotFoundError(`no tarballs of environment ${request.params.name}`);
      return { message: `Deleted ${deleted.length} tarball(s) of ${request.params.name}.`, deleted };
    },
  );

  app.get(
    "/api/docker/images",
    {
      schema: {
        tags: ["environments"],
        summary: "List the Docker images on every online node",
        response: { 200: NodeImageListSchema, ...errors },
      },
    },
    async () => ({ nodes: await listNodeImages(options) }),
  );
};

async function listNodeImages(options: EnvironmentRoutesOptions): Promise<NodeImageList["nodes"]> {
  const nodes = options.ledger.listNodes().sort((a, b) => a.capacity.hostname.localeCompare(b.capacity.hostname));
  return Promise.all(
    nodes.map(async (node) => {
      const hostname = node.capacity.hostname;
      if (!node.schedulable) return { hostname, images: [], error: "node is offline" };
      try {
        const response = await options.runners.call({ hostname, url: node.capacity.url }, "GET", "/api/docker/images");
        if (response.status !== 200) return { hostname, images: [], error: responseDetail(response) };
        const parsed = RunnerImageListSchema.safeParse(response.body);
        if (!parsed.success) return { hostname, images: [], error: "runner sent an invalid image list" };
        return { hostname, images: parsed.data.images, error: null };
      } catch (error) {
        if (error instanceof RunnerUnreachableError) return { hostname, images: [], error: error.message };
        throw error;
      }
    }),
  );
}
