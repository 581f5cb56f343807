/**
 * The runner's side of the host connection: registers (retrying with backoff for as long as the runner
 * runs), then sends a heartbeat every interval with metrics and the tasks it holds. A 404 means the host
 * forgot this node, so the runner registers again; tasks the host no longer expects are stopped.
 */

import {
  HeartbeatResponseSchema,
  RegisterResponseSchema,
  type HeartbeatRequest,
  type RegisterRequest,
} from "@kohakuriver/api";
import { backoffDelayMs, clusterRequest, describeNetworkError, sleep, type Logger } from "@kohakuriver/common";

export interface HostLinkOptions {
  hostUrl: string;
  clusterToken: string;
  nodeName: string;
  intervalSeconds: number;
  logger: Logger;
  registration: () => Promise<RegisterRequest>;
  heartbeat: () => Promise<HeartbeatRequest>;
  stopTask: (taskId: string, reason: string) => Promise<void>;
}

export class HostLink {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private intervalMs: number;
  private readonly stopping = new Set<string>();
  /** Set once registration succeeded; tests and `kohakuriver up` wait for it. */
  registered = false;
  private registeredWaiters: Array<() => void> = [];

  constructor(private readonly options: HostLinkOptions) {
    this.intervalMs = options.intervalSeconds * 1000;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  waitRegistered(): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await this.registerUntilAccepted();
      await this.beatUntilForgotten();
    }
  }

  private async registerUntilAccepted(): Promise<void> {
    const { logger, hostUrl } = this.options;
    for (let attempt = 0; !this.abort.signal.aborted; attempt += 1) {
      try {
        const response = await this.post("POST", "/api/register", await this.options.registration());
        if (response.status === 200) {
          const body = RegisterResponseSchema.safeParse(response.body);
          if (body.success) {
            this.intervalMs = Math.min(this.options.intervalSeconds, body.data.heartbeat_interval_seconds) * 1000;
          }
          logger.info({ host: hostUrl }, "registered with host");
          this.registered = true;
          for (const resolve of this.registeredWaiters.splice(0)) resolve();
          return;
        }
        logger.warn(
          { host: hostUrl, status: response.status, body: response.body },
          describeRejection(response.status, "registration"),
        );
      } catch (error) {
        logger.warn(
          { host: hostUrl, reason: describeNetworkError(error), attempt },
          "cannot reach the host; will retry registration",
        );
      }
      await sleep(backoffDelayMs(attempt, 1000, 30_000), this.abort.signal);
    }
  }

  /** Sends heartbeats until the host returns 404 (it has no record of this node) or the runner stops. */
  private async beatUntilForgotten(): Promise<void> {
    const { logger, hostUrl, nodeName } = this.options;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const started = Date.now();
      try {
        const response = await this.post(
          "PUT",
          `/api/heartbeat/${encodeURIComponent(nodeName)}`,
          await this.options.heartbeat(),
        );
        if (response.status === 404) {
          logger.warn({ host: hostUrl }, "host does not know this node; registering again");
          return;
        }
        if (response.status === 200) {
          if (failures > 0) logger.info({ host: hostUrl, failures }, "heartbeats reach the host again");
          failures = 0;
          this.stopUnexpectedTasks(response.body);
        } else {
          failures += 1;
          logger.warn(
            { host: hostUrl, status: response.status, body: response.body },
            describeRejection(response.status, "heartbeat"),
          );
        }
      } catch (error) {
        failures += 1;
        // Log the first failure and then every tenth, so an unreachable host does not flood the log.
        if (failures === 1 || failures % 10 === 0) {
          logger.warn({ host: hostUrl, reason: describeNetworkError(error), failures }, "heartbeat failed");
        }
      }
      await sleep(Math.max(0, this.intervalMs - (Date.now() - started)), this.abort.signal);
    }
  }

  /** Starts stopping the tasks the host no longer expects without waiting for Docker, so beats stay on time. */
  private stopUnexpectedTasks(body: unknown): void {
    const parsed = HeartbeatResponseSchema.safeParse(body);
    if (!parsed.success) return;
    for (const { task_id: taskId, reason } of parsed.data.stop_tasks) {
      if (this.stopping.has(taskId)) continue;
      this.stopping.add(taskId);
      this.options.logger.warn({ taskId, reason }, "host does not expect this task; stopping it");
      this.options
        .stopTask(taskId, reason)
        .catch((error: unknown) => this.options.logger.error({ err: error, taskId }, "cannot stop task"))
        .finally(() => this.stopping.delete(taskId));
    }
  }

  private post(method: string, path: string, body: unknown) {
    return clusterRequest(method, `${this.options.hostUrl}${path}`, body, {
      token: this.options.clusterToken,
      timeoutMs: 10_000,
    });
  }
}

function describeRejection(status: number, what: string): string {
  if (status === 401)
    return `host rejected the ${what}: wrong or missing cluster token; set CLUSTER_TOKEN to the host's token`;
  return `host rejected the ${what}; will retry`;
}
