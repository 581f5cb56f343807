/** User-facing VPS routes: create, list, status, stop, restart, and snapshots (proxied to the VPS's node). */

import {
  ErrorBodySchema,
  MessageSchema,
  SnapshotCreateQuerySchema,
  SnapshotListSchema,
  SnapshotParamsSchema,
  TaskIdParamsSchema,
  VpsCreateResponseSchema,
  VpsCreateSchema,
  VpsResponseSchema,
  VpsRestartQuerySchema,
  type VpsResponse,
} from "@kohakuriver/api";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

import { ownerIdOf, requireAdminForHostAccess } from "../../auth/principal.js";
import type { AuditLog } from "../../auth/audit-log.js";
import type { Store, TaskRecord } from "../../store/types.js";
import type { ProxiedResponse, VpsService } from "../../vps/vps-service.js";

export interface VpsRoutesOptions {
  vps: VpsService;
  audit: AuditLog;
  store: Store;
}

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  502: ErrorBodySchema,
  503: ErrorBodySchema,
};

/** Runner timeouts for snapshot calls: committing or deleting images of a large VPS takes a while. */
const SNAPSHOT_LIST_TIMEOUT_MS = 30_000;
const SNAPSHOT_CREATE_TIMEOUT_MS = 300_000;
const SNAPSHOT_DELETE_TIMEOUT_MS = 120_000;

/** Returns VPS sessions as the API returns them, with owner names and assignees looked up. */
async function toVpsResponses(store: Store, tasks: readonly TaskRecord[]): Promise<VpsResponse[]> {
  const usernames = new Map<number, string | null>();
  const responses: VpsResponse[] = [];
  for (const task of tasks) {
    if (task.owner_id !== null && !usernames.has(task.owner_id)) {
      usernames.set(task.owner_id, (await store.auth.getUser(task.owner_id))?.username ?? null);
    }
    const assignees = (await store.auth.listVpsAssignments(task.task_id)).map((assignment) => ({
      id: assignment.user_id,
      username: assignment.username,
    }));
    const ownerUsername = task.owner_id === null ? null : (usernames.get(task.owner_id) ?? null);
    responses.push(toVpsResponse(task, ownerUsername, assignees));
  }
  return responses;
}

function toVpsResponse(
  task: TaskRecord,
  ownerUsername: string | null,
  assignees: VpsResponse["assignees"],
): VpsResponse {
  return {
    task_id: task.task_id,
    name: task.name,
    owner_id: task.owner_id,
    owner_username: ownerUsername,
    assignees,
    required_cores: task.required_cores,
    required_gpus: task.required_gpus,
    required_memory_bytes: task.required_memory_bytes,
    status: task.status,
    assigned_node: task.assigned_node,
    target_numa_node_id: task.target_numa_node_id,
    container_name: task.container_name,
    registry_image: task.registry_image,
    docker_image_name: task.docker_image_name,
    ssh_key_mode: task.ssh_key_mode ?? "disabled",
    ssh_port: task.ssh_port,
    vps_backend: task.vps_backend,
    vm_image: task.vm_image,
    vm_ip: task.vm_ip,
    exit_code: task.exit_code,
    error_message: task.error_message,
    submitted_at: task.submitted_at,
    started_at: task.started_at,
    completed_at: task.completed_at,
  };
}

/** Relays a runner's response; an error body without `detail` gets one. */
function relay(reply: FastifyReply, response: ProxiedResponse): FastifyReply {
  if (response.status >= 400) {
    const body = response.body as { detail?: unknown; code?: unknown } | null;
    const detail = typeof body?.detail === "string" ? body.detail : `runner answered HTTP ${response.status}`;
    const code = typeof body?.code === "string" ? body.code : "runner_error";
    return reply.status(response.status).send({ detail, code });
  }
  return reply.status(200).send(response.body);
}

export const vpsRoutes: FastifyPluginAsyncZod<VpsRoutesOptions> = async (app, { vps, audit, store }) => {
  app.post(
    "/api/vps/create",
    {
      schema: {
        tags: ["vps"],
        summary:
          "Create a Docker VPS; it is queued like a task when no node has room. In generate mode the private key is in this response only.",
        body: VpsCreateSchema,
        response: { 200: VpsCreateResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { principal } = request;
      const body = request.body;
      requireAdminForHostAccess(principal, body);
      const created = await vps.create(body, ownerIdOf(principal));
      await audit.record(request, {
        action: "vps.create",
        target: `task:${created.task_id}`,
        detail: { ssh_key_mode: created.ssh_key_mode, image: body.registry_image ?? body.container_name },
      });
      return created;
    },
  );

  app.get(
    "/api/vps",
    {
      schema: {
        tags: ["vps"],
        summary: "List every VPS, newest first",
        response: { 200: z.array(VpsResponseSchema), ...errors },
      },
    },
    async () => toVpsResponses(store, await vps.list(false)),
  );

  app.get(
    "/api/vps/my",
    {
      schema: {
        tags: ["vps"],
        summary: "List the VPS sessions the caller owns or is assigned to, newest first",
        response: { 200: z.array(VpsResponseSchema), ...errors },
      },
    },
    async (request) => {
      const callerId = ownerIdOf(request.principal);
      if (callerId === null) return [];
      const mine: TaskRecord[] = [];
      for (const task of await vps.list(false)) {
        if (task.owner_id === callerId || (await store.auth.isAssignedToVps(task.task_id, callerId))) mine.push(task);
      }
      return toVpsResponses(store, mine);
    },
  );

  app.get(
    "/api/vps/status",
    {
      schema: {
        tags: ["vps"],
        summary: "List the active VPS sessions (pending, assigning, running, paused, lost)",
        response: { 200: z.array(VpsResponseSchema), ...errors },
      },
    },
    async () => toVpsResponses(store, await vps.list(true)),
  );

  app.get(
    "/api/vps/status/:task_id",
    {
      schema: {
        tags: ["vps"],
        summary: "Get one VPS",
        params: TaskIdParamsSchema,
        response: { 200: VpsResponseSchema, ...errors },
      },
    },
    async (request) => (await toVpsResponses(store, [await vps.get(request.params.task_id)]))[0] as VpsResponse,
  );

  app.post(
    "/api/vps/stop/:task_id",
    {
      schema: {
        tags: ["vps"],
        summary: "Stop a VPS: its node takes a snapshot (AUTO_SNAPSHOT_ON_STOP) and removes the container",
        params: TaskIdParamsSchema,
        response: { 202: MessageSchema, ...errors },
      },
    },
    async (request, reply) => {
      const message = await vps.stop(request.params.task_id);
      await audit.record(request, { action: "vps.stop", target: `task:${request.params.task_id}` });
      return reply.status(202).send({ message });
    },
  );

  app.post(
    "/api/vps/restart/:task_id",
    {
      schema: {
        tags: ["vps"],
        summary:
          "Restart a VPS on its node from its newest snapshot, or from ?snapshot=TIMESTAMP, keeping its SSH key mode and key",
        params: TaskIdParamsSchema,
        querystring: VpsRestartQuerySchema,
        response: { 202: MessageSchema, ...errors },
      },
    },
    async (request, reply) => {
      const snapshot = request.query.snapshot === undefined ? null : Number(request.query.snapshot);
      const message = await vps.restart(request.params.task_id, snapshot);
      await audit.record(request, {
        action: "vps.restart",
        target: `task:${request.params.task_id}`,
        detail: { snapshot },
      });
      return reply.status(202).send({ message });
    },
  );

  /**
   * Builds a handler that sends the request, with its path and query unchanged, to the node that keeps
   * the VPS's snapshots, and relays the node's response.
   */
  const forwardSnapshots =
    (timeoutMs: number) =>
    async (request: FastifyRequest<{ Params: { task_id: string } }>, reply: FastifyReply): Promise<void> => {
      const method = request.method as "GET" | "POST" | "DELETE";
      relay(reply, await vps.proxySnapshots(request.params.task_id, method, request.url, timeoutMs));
    };

  app.get(
    "/api/vps/snapshots/:task_id",
    {
      schema: {
        tags: ["vps"],
        summary: "List the snapshots of a VPS, newest first (also while it is stopped)",
        params: TaskIdParamsSchema,
        response: { 200: SnapshotListSchema, ...errors },
      },
    },
    forwardSnapshots(SNAPSHOT_LIST_TIMEOUT_MS),
  );

  app.get(
    "/api/vps/snapshots/:task_id/latest",
    {
      schema: {
        tags: ["vps"],
        summary: "Get the newest snapshot of a VPS",
        params: TaskIdParamsSchema,
        response: { 200: z.object({ task_id: z.string(), tag: z.string() }), ...errors },
      },
    },
    forwardSnapshots(SNAPSHOT_LIST_TIMEOUT_MS),
  );

  app.post(
    "/api/vps/snapshots/:task_id",
    {
      schema: {
        tags: ["vps"],
        summary: "Take a snapshot of a running VPS, with an optional ?message=",
        params: TaskIdParamsSchema,
        querystring: SnapshotCreateQuerySchema,
        response: { 200: z.object({ message: z.string(), tag: z.string() }), ...errors },
      },
    },
    forwardSnapshots(SNAPSHOT_CREATE_TIMEOUT_MS),
  );

  app.delete(
    "/api/vps/snapshots/:task_id/:timestamp",
    {
      schema: {
        tags: ["vps"],
        summary: "Delete one snapshot of a VPS by its timestamp",
        params: SnapshotParamsSchema,
        response: { 200: MessageSchema, ...errors },
      },
    },
    forwardSnapshots(SNAPSHOT_DELETE_TIMEOUT_MS),
  );

  app.delete(
    "/api/vps/snapshots/:task_id",
    {
      schema: {
        tags: ["vps"],
        summary: "Delete every snapshot of a VPS",
        params: TaskIdParamsSchema,
        response: { 200: z.object({ message: z.string(), deleted_count: z.number() }), ...errors },
      },
    },
    forwardSnapshots(SNAPSHOT_DELETE_TIMEOUT_MS),
  );
};
