/**
 * The host's half of every WebSocket that reaches into a task: it checks that the task is running, opens
 * the matching WebSocket on the task's runner with the cluster token, and joins the two. Messages are not
 * parsed on the way. A failure before the join is sent in the protocol's own error message, and then the
 * client's socket is closed (1008 when the request is rejected, 1011 when something failed).
 */

import { KohakuRiverError } from "@kohakuriver/api";
import {
  WebSocketRefusedError,
  canTakeConnection,
  closeSocket,
  openUpgradedConnection,
  openWebSocket,
  relayWebSockets,
  spliceConnections,
  takeConnection,
  type UpgradedConnection,
} from "@kohakuriver/access";
import { describeNetworkError, type Logger } from "@kohakuriver/common";
import WebSocket from "ws";

import { runnerSocketUrl, type TaskTarget, type TaskTargets } from "./task-target.js";

/** Close code for a request refused (not found, not running, forbidden): RFC 6455 "policy violation". */
export const CLOSE_REFUSED = 1008;
/** Close code for a failure on the way (runner unreachable): "internal error". */
export const CLOSE_FAILED = 1011;

export interface RunnerRelayOptions {
  targets: TaskTargets;
  clusterToken: string;
  logger: Logger;
}

export interface RelayRequest {
  taskId: string;
  /** The runner path (with query) for this task, such as `/ws/task/42/terminal`. */
  runnerPath: (target: TaskTarget) => string;
  /** Builds the protocol's error message sent to the client before closing. */
  errorMessage: (text: string) => string;
  /** A label for logs, such as "terminal". */
  purpose: string;
}

export class RunnerRelay {
  constructor(private readonly options: RunnerRelayOptions) {}

  async relay(client: WebSocket, request: RelayRequest): Promise<void> {
    // Held until the runner side is open, so that nothing the client sends first is lost.
    client.pause();
    let clientGone = false;
    client.once("close", () => {
      clientGone = true;
    });
    const logger = this.options.logger.child({ taskId: request.taskId, purpose: request.purpose });

    let target: TaskTarget;
    try {
      target = await this.options.targets.resolveRunning(request.taskId);
    } catch (error) {
      if (error instanceof KohakuRiverError) return refuse(client, request, error.detail, CLOSE_REFUSED);
      throw error;
    }

    // Spliced at the byte level when possible; relayed message by message otherwise.
    const splice = canTakeConnection(client);
    const url = runnerSocketUrl(target.node.url, request.runnerPath(target));
    let runner: WebSocket | UpgradedConnection;
    try {
      const options = { token: this.options.clusterToken };
      runner = splice ? await openUpgradedConnection(url, options) : await openWebSocket(url, options);
    } catch (error) {
      if (error instanceof WebSocketRefusedError) {
        const code = error.status >= 500 ? CLOSE_FAILED : CLOSE_REFUSED;
        return refuse(client, request, error.detail, code);
      }
      logger.warn({ node: target.node.hostname, error: describeNetworkError(error) }, "runner unreachable");
      return refuse(
        client,
        request,
        `runner ${target.node.hostname} is unreachable: ${describeNetworkError(error)}; try again when the node is back`,
        CLOSE_FAILED,
      );
    }
    if (clientGone) {
      if (runner instanceof WebSocket) runner.close(1000, "the client went away");
      else runner.socket.destroy();
      return;
    }

    const onClose = (): void => logger.debug("relay closed");
    if (runner instanceof WebSocket) {
      relayWebSockets(client, runner, { onClose });
      client.resume();
    } else {
      const connection = takeConnection(client);
      if (connection === null) {
        runner.socket.destroy();
        return refuse(client, request, "the host could not relay this connection; try again", CLOSE_FAILED);
      }
      if (runner.head.length > 0) connection.write(runner.head);
      spliceConnections(connection, runner.socket, onClose);
    }
    logger.debug({ node: target.node.hostname, splice }, "relay open");
  }
}

function refuse(client: WebSocket, request: RelayRequest, text: string, code: number): void {
  // Reading again, so that the client's reply to the close frame is seen and the close completes.
  client.resume();
  if (client.readyState === WebSocket.OPEN) client.send(request.errorMessage(text));
  closeSocket(client, code, text);
}
