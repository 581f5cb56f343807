/**
 * The seven REST routes of the file API under one prefix, shared by the runner (`/api/fs/:task_id`), and
 * the host (`/api/fs/:task_id`, relayed to the runner, and `/api/fs/container/:container_name`). The caller
 * supplies how a request finds its container's FileOperations.
 */

import {
  ErrorBodySchema,
  FILE_WRITE_BODY_LIMIT_BYTES,
  FileDeleteQuerySchema,
  FileDeleteResponseSchema,
  FileListQuerySchema,
  FileListResponseSchema,
  FileMkdirRequestSchema,
  FileMkdirResponseSchema,
  FileReadQuerySchema,
  FileReadResponseSchema,
  FileRenameRequestSchema,
  FileRenameResponseSchema,
  FileStatQuerySchema,
  FileStatResponseSchema,
  FileWriteRequestSchema,
  FileWriteResponseSchema,
  type FileOperations,
} from "@kohakuriver/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { z } from "zod";

export interface FileRoutesOptions {
  /** The path before the operation name, such as `/api/fs/:task_id`. */
  prefix: string;
  params: z.ZodObject;
  /** Resolves the container of a request (from its path parameters) and its operations. */
  operations: (request: FastifyRequest) => Promise<FileOperations>;
  /** OpenAPI tags of the routes. */
  tags?: string[];
}

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  413: ErrorBodySchema,
  502: ErrorBodySchema,
  503: ErrorBodySchema,
};

export function registerFileRoutes(server: FastifyInstance, options: FileRoutesOptions): void {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const { prefix, params, operations } = options;
  const tags = options.tags ?? ["files"];

  app.get(
    `${prefix}/list`,
    {
      schema: {
        tags,
        summary: "List a directory (at most 1000 entries, by name)",
        params,
        querystring: FileListQuerySchema,
        response: { 200: FileListResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).list(request.query),
  );

  app.get(
    `${prefix}/read`,
    {
      schema: {
        tags,
        summary: "Read a file as UTF-8 text or base64, up to `limit` bytes (at most 50 MiB)",
        params,
        querystring: FileReadQuerySchema,
        response: { 200: FileReadResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).read(request.query),
  );

  app.post(
    `${prefix}/write`,
    {
      bodyLimit: FILE_WRITE_BODY_LIMIT_BYTES,
      schema: {
        tags,
        summary: "Create or replace a file (at most 50 MiB), creating its parent directories unless told not to",
        params,
        body: FileWriteRequestSchema,
        response: { 200: FileWriteResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).write(request.body),
  );

  app.post(
    `${prefix}/mkdir`,
    {
      schema: {
        tags,
        summary: "Create a directory, with its parents when `parents` is true",
        params,
        body: FileMkdirRequestSchema,
        response: { 200: FileMkdirResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).mkdir(request.body),
  );

  app.post(
    `${prefix}/rename`,
    {
      schema: {
        tags,
        summary: "Rename or move a file or directory; an existing destination needs `overwrite`",
        params,
        body: FileRenameRequestSchema,
        response: { 200: FileRenameResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).rename(request.body),
  );

  app.delete(
    `${prefix}/delete`,
    {
      schema: {
        tags,
        summary: "Delete a file, a symlink, or with `recursive=true` a directory and its contents",
        params,
        querystring: FileDeleteQuerySchema,
        response: { 200: FileDeleteResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).delete(request.query),
  );

  app.get(
    `${prefix}/stat`,
    {
      schema: {
        tags,
        summary: "Describe a file, directory or symlink (the link itself, with its target)",
        params,
        querystring: FileStatQuerySchema,
        response: { 200: FileStatResponseSchema, ...errors },
      },
    },
    async (request) => (await operations(request)).stat(request.query.path),
  );
}
