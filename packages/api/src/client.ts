/**
 * Typed HTTP client for the host API, used by the CLI, the tests and the benchmarks.
 * It sends JSON, reads `detail`/`code` error bodies back into the shared error classes, and never
 * retries on its own: callers decide what a failure means.
 */

import { errorFromResponse, UnavailableError } from "./errors.js";
import type {
  AuditEntry,
  AuditQuery,
  AuthStatusResponse,
  InvitationCreateRequest,
  InvitationResponse,
  LoginResponse,
  TokenCreatedResponse,
  TokenResponse,
  UserResponse,
  UserUpdateRequest,
} from "./schemas/auth.js";
import type {
  EnvironmentContainer,
  EnvironmentCreateRequest,
  EnvironmentCreateResponse,
  NodeImageList,
  TarballCreateResponse,
  TarballList,
} from "./schemas/docker.js";
import type { NodeHealth, NodeResponse, HealthAggregate } from "./schemas/node.js";
import type { SubmitResponse, TaskListQuery, TaskResponse, TaskSubmission } from "./schemas/task.js";

export interface HostClientOptions {
  /** Base URL of the host, for example http://127.0.0.1:8000. */
  baseUrl: string;
  /** API token sent as `Authorization: Bearer …` on every request, when set. */
  token?: string | undefined;
  /** Session cookie value (`kohakuriver_session`) sent on every request, when set. */
  session?: string | undefined;
  /** Extra headers sent on every request, such as `X-Admin-Token`. */
  headers?: Record<string, string> | undefined;
  /** Per-request timeout in milliseconds (default 30,000). */
  timeoutMs?: number;
}

/**
 * Timeout of requests that commit, save or pull images (30 minutes).
 * NOTE: Node.js's fetch (undici) gives up on its own after 300 s without response headers, so an
 * operation longer than that fails early on the client although the host completes it.
 */
const LONG_OPERATION_MS = 30 * 60_000;

export class HostClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly session: string | undefined;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: HostClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.session = options.session;
    this.headers = options.headers ?? {};
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  submit(submission: TaskSubmission): Promise<SubmitResponse> {
    return this.request("POST", "/api/submit", submission);
  }

  getTask(taskId: string): Promise<TaskResponse> {
    return this.request("GET", `/api/status/${encodeURIComponent(taskId)}`);
  }

  listTasks(query: TaskListQuery = {}): Promise<TaskResponse[]> {
    return this.request("GET", `/api/tasks${toQueryString(query)}`);
  }

  getLog(taskId: string, stream: "stdout" | "stderr", lines?: number): Promise<string> {
    const query = lines === undefined ? "" : `?lines=${lines}`;
    return this.request("GET", `/api/tasks/${encodeURIComponent(taskId)}/${stream}${query}`, undefined, "text");
  }

  /**
   * Reads part of a task's log with the byte offsets needed to follow it: pass `offset` (the previous
   * `endOffset`) to get only what was appended since.
   */
  async readLog(
    taskId: string,
    stream: "stdout" | "stderr",
    options: { lines?: number; offset?: number } = {},
  ): Promise<{ text: string; endOffset: number; size: number }> {
    const query = toQueryString(options);
    const response = await this.send("GET", `/api/tasks/${encodeURIComponent(taskId)}/${stream}${query}`);
    const text = await response.text();
    if (!response.ok) throw errorOf(response, text);
    return {
      text,
      endOffset: Number(response.headers.get("x-log-end-offset") ?? new TextEncoder().encode(text).length),
      size: Number(response.headers.get("x-log-size") ?? 0),
    };
  }

  kill(taskId: string): Promise<{ message: string }> {
    return this.request("POST", `/api/kill/${encodeURIComponent(taskId)}`);
  }

  control(taskId: string, command: "pause" | "resume"): Promise<{ message: string }> {
    return this.request("POST", `/api/command/${encodeURIComponent(taskId)}/${command}`);
  }

  listNodes(): Promise<NodeResponse[]> {
    return this.request("GET", "/api/nodes");
  }

  getHealth(): Promise<{ nodes: NodeHealth[][]; aggregate: HealthAggregate[] }> {
    return this.request("GET", "/api/health");
  }

  getNodeHealth(hostname: string): Promise<NodeHealth[]> {
    return this.request("GET", `/api/health?hostname=${encodeURIComponent(hostname)}`);
  }

  listMyTasks(query: TaskListQuery = {}): Promise<TaskResponse[]> {
    return this.request("GET", `/api/tasks/my${toQueryString(query)}`);
  }

  listPendingApproval(query: { limit?: number; offset?: number } = {}): Promise<TaskResponse[]> {
    return this.request("GET", `/api/tasks/pending-approval${toQueryString(query)}`);
  }

  approve(taskId: string): Promise<{ message: string }> {
    return this.request("POST", `/api/approve/${encodeURIComponent(taskId)}`);
  }

  reject(taskId: string, reason?: string): Promise<{ message: string }> {
    return this.request("POST", `/api/reject/${encodeURIComponent(taskId)}${toQueryString({ reason })}`);
  }

  authStatus(): Promise<AuthStatusResponse> {
    return this.request("GET", "/api/auth/status");
  }

  /** Logs in with a password; resolves to the user and the session id from the `kohakuriver_session` cookie. */
  async login(username: string, password: string): Promise<LoginResponse & { session: string }> {
    const response = await this.send("POST", "/api/auth/login", { username, password });
    return readSession(response);
  }

  /** Creates an account with an invitation token; resolves to the user and the new session id. */
  async register(
    invitationToken: string,
    account: { username: string; password: string; display_name?: string },
  ): Promise<LoginResponse & { session: string }> {
    const path = `/api/auth/register${toQueryString({ token: invitationToken })}`;
    const response = await this.send("POST", path, account);
    return readSession(response);
  }

  logout(): Promise<{ message: string }> {
    return this.request("POST", "/api/auth/logout");
  }

  me(): Promise<UserResponse> {
    return this.request("GET", "/api/auth/me");
  }

  listTokens(): Promise<TokenResponse[]> {
    return this.request("GET", "/api/auth/tokens");
  }

  createToken(name: string): Promise<TokenCreatedResponse> {
    return this.request("POST", "/api/auth/tokens/create", { name });
  }

  revokeToken(tokenId: number): Promise<{ message: string }> {
    return this.request("DELETE", `/api/auth/tokens/${tokenId}`);
  }

  listUsers(): Promise<UserResponse[]> {
    return this.request("GET", "/api/auth/users");
  }

  updateUser(userId: number, update: UserUpdateRequest): Promise<UserResponse> {
    return this.request("PATCH", `/api/auth/users/${userId}`, update);
  }

  deleteUser(userId: number): Promise<{ message: string }> {
    return this.request("DELETE", `/api/auth/users/${userId}`);
  }

  listInvitations(): Promise<InvitationResponse[]> {
    return this.request("GET", "/api/auth/invitations");
  }

  createInvitation(request: InvitationCreateRequest): Promise<InvitationResponse> {
    return this.request("POST", "/api/auth/invitations", request);
  }

  deleteInvitation(invitationId: number): Promise<{ message: string }> {
    return this.request("DELETE", `/api/auth/invitations/${invitationId}`);
  }

  listAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return this.request("GET", `/api/audit${toQueryString(query)}`);
  }

  listEnvironmentContainers(): Promise<EnvironmentContainer[]> {
    return this.request("GET", "/api/docker/host/containers");
  }

  /** Creates an environment container. The host may pull the image first, so this waits up to 30 minutes. */
  createEnvironmentContainer(request: EnvironmentCreateRequest): Promise<EnvironmentCreateResponse> {
    return this.request("POST", "/api/docker/host/create", request, "json", { timeoutMs: LONG_OPERATION_MS });
  }

  /** Starts, stops, deletes or migrates (renames a legacy container into) an environment container. */
  environmentContainerAction(
    action: "start" | "stop" | "delete" | "migrate",
    environmentName: string,
  ): Promise<{ message: string }> {
    return this.request(
      "POST",
      `/api/docker/host/${action}/${encodeURIComponent(environmentName)}`,
      undefined,
      "json",
      {
        timeoutMs: LONG_OPERATION_MS,
      },
    );
  }

  listTarballs(): Promise<TarballList> {
    return this.request("GET", "/api/docker/list");
  }

  /** Commits an environment and saves it as a tarball. Large images take minutes, so this waits up to 30. */
  createTarball(environmentName: string): Promise<TarballCreateResponse> {
    return this.request("POST", `/api/docker/create_tar/${encodeURIComponent(environmentName)}`, undefined, "json", {
      timeoutMs: LONG_OPERATION_MS,
    });
  }

  deleteTarballs(environmentName: string): Promise<{ message: string; deleted: string[] }> {
    return this.request("DELETE", `/api/docker/container/${encodeURIComponent(environmentName)}`);
  }

  listNodeImages(): Promise<NodeImageList> {
    return this.request("GET", "/api/docker/images");
  }

  /** Sends one request; resolves to the parsed JSON (or text) body, rejects with a KohakuRiverError. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    responseType: "json" | "text" = "json",
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    const response = await this.send(method, path, body, options.timeoutMs);
    const text = await response.text();
    if (!response.ok) throw errorOf(response, text);
    if (responseType === "text") return text as T;
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  private async send(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (this.session !== undefined) headers.cookie = `kohakuriver_session=${this.session}`;

    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new UnavailableError(`cannot reach the host at ${this.baseUrl}: ${describeFetchError(error)}`, error);
    }
  }
}

/** Reads a login or registration response: the JSON body plus the session id from its cookie. */
async function readSession(response: Response): Promise<LoginResponse & { session: string }> {
  const text = await response.text();
  if (!response.ok) throw errorOf(response, text);
  const cookie = response.headers.get("set-cookie") ?? "";
  const session = /(?:^|[;,]\s*)kohakuriver_session=([^;,\s]+)/.exec(cookie)?.[1];
  if (session === undefined) throw new UnavailableError("the host sent no kohakuriver_session cookie with the login");
  return { ...(JSON.parse(text) as LoginResponse), session };
}

function errorOf(response: Response, text: string): Error {
  let parsed: unknown = { detail: text || response.statusText };
  try {
    parsed = JSON.parse(text);
  } catch {
    // A non-JSON error body (a proxy page, say) is reported as text.
  }
  return errorFromResponse(response.status, parsed);
}

function toQueryString(query: Record<string, unknown>): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) parameters.set(key, String(value));
  }
  const text = parameters.toString();
  return text === "" ? "" : `?${text}`;
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code !== undefined) return cause.code;
    if (error.name === "TimeoutError") return "timed out";
    return error.message;
  }
  return String(error);
}
