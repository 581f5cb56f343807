/**
 * Port-forward throughput. A host and a runner run as separate processes. One task container runs two
 * busybox `nc` servers: a sink on port 9000 that discards what it reads, and a source on port 9001 that
 * writes N bytes of zeros (dd, 1 MB blocks) on every connection. `kohakuriver forward` runs as its own
 * process (from dist) for each port, so the forwarded path is benchmark → CLI → host → runner →
 * container: three Node.js processes and two WebSocket hops.
 *
 * Each round moves N bytes four ways, one after another: to the sink through the forward and directly to
 * the container's bridge address, and from the source the same two ways. A transfer to the sink ends when
 * the container closes the connection after reading everything. A transfer from the source ends with the
 * last byte. The baseline connects from the benchmark process straight to the container's address.
 */

import { once } from "node:events";
import { connect, type Socket } from "node:net";

import { TestCluster, freePort, type LongRunningCli } from "../test/e2e/harness.js";
import { median } from "./stats.js";

const SINK_PORT = 9000;
const SOURCE_PORT = 9001;
const WRITE_CHUNK_BYTES = 1024 * 1024;

export interface ForwardResult {
  bytes: number;
  rounds: number;
  /** Bytes per second of each round. */
  uploadForward: number[];
  uploadDirect: number[];
  downloadForward: number[];
  downloadDirect: number[];
}

export async function measureForward(
  bytes: number,
  rounds: number,
  log: (line: string) => void,
): Promise<ForwardResult> {
  const cluster = new TestCluster({ host: { LOG_LEVEL: "warn" }, runner: { LOG_LEVEL: "warn" } });
  const forwards: LongRunningCli[] = [];
  const result: ForwardResult = {
    bytes,
    rounds,
    uploadForward: [],
    uploadDirect: [],
    downloadForward: [],
    downloadDirect: [],
  };
  try {
    await cluster.startHost();
    const node = await cluster.startRunner(0);
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: [
        "-c",
        `nc -ll -p ${SINK_PORT} -e sh -c 'cat > /dev/null' & exec nc -ll -p ${SOURCE_PORT} -e dd if=/dev/zero bs=1000000 count=${Math.ceil(bytes / 1e6)}`,
      ],
      shell: false,
      targets: [node],
      required_cores: 0,
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
    const address = await containerAddress(cluster, taskId);
    await waitForListening(address, SINK_PORT);

    const forwardedPorts: Record<number, number> = {};
    for (const port of [SINK_PORT, SOURCE_PORT]) {
      const localPort = await freePort();
      const forward = cluster.spawnCli(["forward", taskId, String(port), "-l", String(localPort)]);
      forwards.push(forward);
      await forward.waitForOutput(/Forwarding .* Ctrl-C to stop/);
      forwardedPorts[port] = localPort;
    }
    const forwardHost = {
      host: "127.0.0.1",
      sink: forwardedPorts[SINK_PORT] ?? 0,
      source: forwardedPorts[SOURCE_PORT] ?? 0,
    };
    const directHost = { host: address, sink: SINK_PORT, source: SOURCE_PORT };

    // One unrecorded upload of a tenth of the size on each path warms up the JIT and both paths.
    await upload(directHost.host, directHost.sink, bytes / 10);
    await upload(forwardHost.host, forwardHost.sink, bytes / 10);
    for (let round = 0; round < rounds; round += 1) {
      // Alternating the order evens out drift in the machine's load between the two paths.
      const forwardFirst = round % 2 === 0;
      const paths = forwardFirst ? [forwardHost, directHost] : [directHost, forwardHost];
      for (const path of paths) {
        const rate = bytes / (await upload(path.host, path.sink, bytes));
        (path === forwardHost ? result.uploadForward : result.uploadDirect).push(rate);
      }
      for (const path of paths) {
        const rate = bytes / (await download(path.host, path.source, bytes));
        (path === forwardHost ? result.downloadForward : result.downloadDirect).push(rate);
      }
      log(
        `forward: round ${round + 1}/${rounds}: upload ${mbps(result.uploadForward.at(-1))} vs ${mbps(result.uploadDirect.at(-1))} direct, ` +
          `download ${mbps(result.downloadForward.at(-1))} vs ${mbps(result.downloadDirect.at(-1))} direct`,
      );
    }
  } finally {
    for (const forward of forwards) await forward.stop();
    await cluster.cleanup();
  }
  return result;
}

/** Summarizes one direction: median rates and their ratio. */
export function forwardSummary(
  forward: number[],
  direct: number[],
): { forward: number; direct: number; ratio: number } {
  const ours = median(forward);
  const baseline = median(direct);
  return { forward: ours, direct: baseline, ratio: ours / baseline };
}

export function mbps(bytesPerSecond: number | undefined): string {
  return `${((bytesPerSecond ?? 0) / 1e6).toFixed(0)} MB/s`;
}

async function containerAddress(cluster: TestCluster, taskId: string): Promise<string> {
  const [container] = await cluster.containers(taskId);
  if (container === undefined) throw new Error(`task ${taskId} has no container`);
  const networks = container.NetworkSettings.Networks;
  const address = networks[cluster.networkName]?.IPAddress ?? Object.values(networks)[0]?.IPAddress;
  if (address === undefined || address === "") throw new Error(`task ${taskId}'s container has no address`);
  return address;
}

/** Writes `bytes` and returns the seconds until the server closed the connection after reading them all. */
async function upload(host: string, port: number, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(WRITE_CHUNK_BYTES);
  const started = performance.now();
  const socket = await connected(host, port);
  const closed = once(socket, "close");
  socket.resume();
  let written = 0;
  while (written < bytes) {
    const size = Math.min(chunk.length, bytes - written);
    written += size;
    if (!socket.write(size === chunk.length ? chunk : chunk.subarray(0, size))) await once(socket, "drain");
  }
  socket.end();
  await closed;
  return (performance.now() - started) / 1000;
}

/** Reads until the server ends the stream and returns the seconds it took; fails on a short stream. */
async function download(host: string, port: number, bytes: number): Promise<number> {
  const started = performance.now();
  const socket = await connected(host, port);
  let received = 0;
  socket.on("data", (chunk: Buffer) => (received += chunk.length));
  await once(socket, "end");
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  if (received !== bytes) throw new Error(`received ${received} of ${bytes} bytes from ${host}:${port}`);
  return seconds;
}

/** Waits until the server in the container accepts connections (nc starts after the task is running). */
async function waitForListening(host: string, port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      (await connected(host, port)).destroy();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function connected(host: string, port: number): Promise<Socket> {
  const socket = connect({ host, port });
  await once(socket, "connect");
  return socket;
}
