/**
 * The access policy of every HTTP route and WebSocket of the host, in one table.
 *
 * Every route the server registers must have an entry here, keyed by its method and its path as written
 * in the route definition (`GET /api/tasks/:task_id/stdout`). The server refuses to start when a route
 * is missing, and `access-control.test.ts` checks every entry against every role. A HEAD route uses the
 * entry of its GET route. A WebSocket route is a GET route registered with `{ websocket: true }`.
 *
 * Kinds of entry:
 * - `public`: anyone, also without credentials (API docs, login, registration).
 * - `cluster`: only callers that present the cluster token (runners); accounts are refused.
 * - `role`: an account with at least `role`. With AUTH_ENABLED false every caller counts as admin. With
 *   `runners` set, callers presenting the cluster token are allowed too (runners fetch environment tarballs).
 * - `task`: an account with at least `role`, on a task it owns or a VPS it is assigned to. Accounts with
 *   at least `anyTaskRole` may use every task. The route must have a `:task_id` parameter.
 */

import type { Role } from "@kohakuriver/api";

export type RoutePolicy =
  | { access: "public" }
  | { access: "cluster" }
  | { access: "role"; role: Role; runners?: true }
  | { access: "task"; role: Role; anyTaskRole: Role };

const PUBLIC: RoutePolicy = { access: "public" };
const CLUSTER: RoutePolicy = { access: "cluster" };
const role = (minimum: Role): RoutePolicy => ({ access: "role", role: minimum });
/** An account with at least `minimum`, or a runner with the cluster token. */
const roleOrRunner = (minimum: Role): RoutePolicy => ({ access: "role", role: minimum, runners: true });
/** The owner of the task, an assignee of the VPS, or an operator or admin. */
const TASK_OWNER_OR_OPERATOR: RoutePolicy = { access: "task", role: "user", anyTaskRole: "operator" };

export const ROUTE_POLICIES: Readonly<Record<string, RoutePolicy>> = {
  // Service information and API documentation.
  "GET /api/version": PUBLIC,
  "GET /openapi.json": PUBLIC,
  "GET /docs": PUBLIC,
  "GET /docs/": PUBLIC,
  "GET /docs/json": PUBLIC,
  "GET /docs/yaml": PUBLIC,
  "GET /docs/static/*": PUBLIC,
  "GET /docs/static/index.html": PUBLIC,
  "GET /docs/static/swagger-initializer.js": PUBLIC,

  // Runners, with the cluster token.
  "POST /api/register": CLUSTER,
  "PUT /api/heartbeat/:hostname": CLUSTER,
  "POST /api/update": CLUSTER,

  // Accounts. Handlers add: the token routes act on the caller's own tokens only, operators may invite
  // viewers only, and no account may demote, disable or delete itself.
  "GET /api/auth/status": PUBLIC,
  "POST /api/auth/login": PUBLIC,
  "POST /api/auth/logout": PUBLIC,
  "POST /api/auth/register": PUBLIC,
  "GET /api/auth/me": role("viewer"),
  "GET /api/auth/tokens": role("viewer"),
  "POST /api/auth/tokens/create": role("viewer"),
  "DELETE /api/auth/tokens/:id": role("viewer"),
  "GET /api/auth/users": role("operator"),
  "PATCH /api/auth/users/:id": role("admin"),
  "DELETE /api/auth/users/:id": role("admin"),
  "GET /api/auth/invitations": role("admin"),
  "POST /api/auth/invitations": role("operator"),
  "DELETE /api/auth/invitations/:id": role("admin"),
  "GET /api/audit": role("admin"),

  // Nodes.
  "GET /api/nodes": role("viewer"),
  "GET /api/health": role("viewer"),

  // Command tasks. Privileged containers and additional mounts in a submission need admin (checked in the handler).
  "POST /api/submit": role("user"),
  "GET /api/status/:task_id": role("viewer"),
  "GET /api/tasks": role("viewer"),
  "GET /api/tasks/my": role("user"),
  "GET /api/tasks/:task_id/stdout": TASK_OWNER_OR_OPERATOR,
  "GET /api/tasks/:task_id/stderr": TASK_OWNER_OR_OPERATOR,
  "POST /api/kill/:task_id": TASK_OWNER_OR_OPERATOR,
  "POST /api/command/:task_id/:command": TASK_OWNER_OR_OPERATOR,

  // Approval of submissions by `user` accounts.
  "GET /api/tasks/pending-approval": role("operator"),
  "POST /api/approve/:task_id": role("operator"),
  "POST /api/reject/:task_id": role("operator"),

  // VPS sessions. A VPS is a task, so kill, pause and resume use the command task routes above.
  "POST /api/vps/create": role("operator"),
  "GET /api/vps": role("viewer"),
  "GET /api/vps/status": role("viewer"),
  "GET /api/vps/my": role("user"),
  "GET /api/vps/status/:task_id": role("viewer"),
  "POST /api/vps/stop/:task_id": TASK_OWNER_OR_OPERATOR,
  "POST /api/vps/restart/:task_id": TASK_OWNER_OR_OPERATOR,
  "GET /api/vps/snapshots/:task_id": TASK_OWNER_OR_OPERATOR,
  "GET /api/vps/snapshots/:task_id/latest": TASK_OWNER_OR_OPERATOR,
  "POST /api/vps/snapshots/:task_id": TASK_OWNER_OR_OPERATOR,
  "DELETE /api/vps/snapshots/:task_id": TASK_OWNER_OR_OPERATOR,
  "DELETE /api/vps/snapshots/:task_id/:timestamp": TASK_OWNER_OR_OPERATOR,
  // Environments: host environment containers and tarballs. Runners download tarballs with the cluster token.
  "GET /api/docker/host/containers": role("operator"),
  "POST /api/docker/host/create": role("operator"),
  "POST /api/docker/host/start/:env_name": role("operator"),
  "POST /api/docker/host/stop/:env_name": role("operator"),
  "POST /api/docker/host/delete/:env_name": role("operator"),
  "POST /api/docker/host/migrate/:old_name": role("operator"),
  "GET /api/docker/list": roleOrRunner("operator"),
  "POST /api/docker/create_tar/:env_name": role("operator"),
  "GET /api/docker/container/:name": roleOrRunner("operator"),
  "DELETE /api/docker/container/:name": role("operator"),
  "GET /api/docker/images": role("operator"),
  // VPS assignment.
  "POST /api/vps/:task_id/assign": role("operator"),
  "DELETE /api/vps/:task_id/assign/:user_id": role("operator"),
  "GET /api/vps/:task_id/assignments": role("operator"),

  // Reaching into running containers: WebSockets (terminal, port forwarding) and, for environment
  // containers on the host, the same operations as for tasks, limited to operators.
  "GET /ws/task/:task_id/terminal": TASK_OWNER_OR_OPERATOR,
  "GET /ws/forward/:task_id/:port": TASK_OWNER_OR_OPERATOR,
  "GET /ws/docker/host/containers/:container_name/terminal": role("operator"),
  "GET /ws/fs/:task_id/watch": TASK_OWNER_OR_OPERATOR,

  // Files in running containers.
  "GET /api/fs/:task_id/list": TASK_OWNER_OR_OPERATOR,
  "GET /api/fs/:task_id/read": TASK_OWNER_OR_OPERATOR,
  "POST /api/fs/:task_id/write": TASK_OWNER_OR_OPERATOR,
  "POST /api/fs/:task_id/mkdir": TASK_OWNER_OR_OPERATOR,
  "POST /api/fs/:task_id/rename": TASK_OWNER_OR_OPERATOR,
  "DELETE /api/fs/:task_id/delete": TASK_OWNER_OR_OPERATOR,
  "GET /api/fs/:task_id/stat": TASK_OWNER_OR_OPERATOR,
  "GET /api/fs/container/:container_name/list": role("operator"),
  "GET /api/fs/container/:container_name/read": role("operator"),
  "POST /api/fs/container/:container_name/write": role("operator"),
  "POST /api/fs/container/:container_name/mkdir": role("operator"),
  "POST /api/fs/container/:container_name/rename": role("operator"),
  "DELETE /api/fs/container/:container_name/delete": role("operator"),
  "GET /api/fs/container/:container_name/stat": role("operator"),
};

/** Returns the table key of a route: its method and path, with HEAD sharing the GET entry. */
export function policyKey(method: string, url: string): string {
  return `${method === "HEAD" ? "GET" : method} ${url}`;
}

export function policyFor(method: string, url: string): RoutePolicy | undefined {
  return ROUTE_POLICIES[policyKey(method, url)];
}
