import { createSocket } from "node:dgram";

import type { RunnerConfig } from "../config.js";

/**
 * The address the host should use to reach this runner: RUNNER_ADDRESS, else RUNNER_BIND_IP, else (when
 * bound to all interfaces) the local address of the route toward the host. The route lookup connects a UDP
 * socket, which sends no packet.
 */
export async function advertisedAddress(config: RunnerConfig): Promise<string> {
  if (config.RUNNER_ADDRESS !== "") return config.RUNNER_ADDRESS;
  if (config.RUNNER_BIND_IP !== "0.0.0.0" && config.RUNNER_BIND_IP !== "::") return config.RUNNER_BIND_IP;

  return new Promise((resolve) => {
    const socket = createSocket(config.HOST_ADDRESS.includes(":") ? "udp6" : "udp4");
    const fallback = (): void => {
      socket.close();
      resolve("127.0.0.1");
    };
    socket.once("error", fallback);
    socket.connect(config.HOST_PORT, config.HOST_ADDRESS, () => {
      const address = socket.address().address;
      socket.close();
      resolve(address);
    });
  });
}

export function runnerUrl(address: string, port: number): string {
  return `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
}
