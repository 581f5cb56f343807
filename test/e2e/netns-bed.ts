/**
 * A test bed of several nodes on one machine: each node is a network namespace with its own Docker Engine,
 * linked by a veth pair to a bridge in the root namespace. The host listens on the bridge's address,
 * runners run inside their namespaces (started through `nsenter`), and each runner drives its own
 * `dockerd`, so images and containers on one node are invisible to the others.
 *
 * Requires root, iproute2 (`ip`), util-linux (`nsenter`) and `dockerd`. Everything it creates is named
 * with the `kr-tb-` or `krb`/`krv` prefix plus a random id, and removed by `cleanup()`. A synchronous
 * exit handler removes the namespaces and the bridge if the test process ends without cleanup().
 */

import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import Docker from "dockerode";

const run = promisify(execFile);

export interface NetnsNode {
  index: number;
  /** Network namespace name; `/run/netns/{namespace}` is its handle for nsenter. */
  namespace: string;
  /** The node's address on the bed's bridge network. */
  address: string;
  /** The node's own Docker Engine socket. */
  dockerSocket: string;
  docker: Docker;
  /** Command prefix that runs a program inside the node's namespace. */
  enter: string[];
}

interface NodeInternals extends NetnsNode {
  directory: string;
  dockerd: ChildProcess;
  exited: Promise<void>;
}

/** Returns why the bed cannot run here, or false when it can. */
export function netnsSkipReason(): string | false {
  if (process.getuid?.() !== 0) return "the netns test bed needs root";
  for (const tool of ["/usr/sbin/dockerd", "/usr/bin/nsenter"]) {
    if (!existsSync(tool)) return `${tool} not found`;
  }
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "ip (iproute2) not found; run scripts/setup.sh";
  }
  return false;
}

export class NetnsTestBed {
  readonly id = Math.random().toString(36).slice(2, 8);
  /** Bridge in the root namespace (interface names have at most 15 characters). */
  readonly bridge = `krb${this.id}`;
  readonly subnetPrefix = `10.214.${Math.floor(Math.random() * 250) + 1}`;
  /** The bridge's address: where the host listens and what runners connect to. */
  readonly hostAddress = `${this.subnetPrefix}.1`;
  private readonly directory = mkdtempSync(join(tmpdir(), "kr-tb-"));
  private readonly nodes: NodeInternals[] = [];
  private bridgeCreated = false;
  private readonly exitHandler = () => this.removeNetworkSync();

  /** Creates the bridge; call once before addNode. */
  async start(): Promise<void> {
    process.once("exit", this.exitHandler);
    await ip("link", "add", "name", this.bridge, "type", "bridge");
    this.bridgeCreated = true;
    await ip("addr", "add", `${this.hostAddress}/24`, "dev", this.bridge);
    await ip("link", "set", this.bridge, "up");
  }

  /** Creates a namespace linked to the bridge and starts its dockerd. Resolves once the engine responds to a ping. */
  async addNode(index: number): Promise<NetnsNode> {
    const namespace = `kr-tb-${this.id}-${index}`;
    const hostEnd = `krv${this.id}${index}`;
    const address = `${this.subnetPrefix}.${10 + index}`;
    const directory = join(this.directory, `node-${index}`);

    await ip("netns", "add", namespace);
    await ip("link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", namespace);
    await ip("link", "set", hostEnd, "master", this.bridge, "up");
    await ip("-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0");
    await ip("-n", namespace, "link", "set", "eth0", "up");
    await ip("-n", namespace, "link", "set", "lo", "up");

    const enter = ["nsenter", `--net=/run/netns/${namespace}`];
    const dockerSocket = join(directory, "docker.sock");
    // `ip netns exec` would also remount /sys, which hides the cgroup mounts and makes dockerd fail, so
    // only the network namespace is entered. No default bridge and no iptables rules: workloads use the
    // runner's own bridge network, and nothing needs NAT to the outside.
    const dockerd = spawn(
      enter[0] as string,
      [
        ...enter.slice(1),
        "dockerd",
        "--data-root",
        join(directory, "data"),
        "--exec-root",
        join(directory, "exec"),
        "--pidfile",
        join(directory, "dockerd.pid"),
        "-H",
        `unix://${dockerSocket}`,
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--containerd-namespace",
        namespace,
        "--containerd-plugins-namespace",
        `${namespace}-plugins`,
        "--log-level",
        "warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    dockerd.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => dockerd.once("exit", () => resolve()));
    const docker = new Docker({ socketPath: dockerSocket });
    const node: NodeInternals = { index, namespace, address, dockerSocket, docker, enter, directory, dockerd, exited };
    this.nodes.push(node);

    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await docker.ping();
        break;
      } catch (error) {
        if (dockerd.exitCode !== null || Date.now() > deadline) {
          throw new Error(`dockerd in namespace ${namespace} did not start: ${String(error)}\n${stderr}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return node;
  }

  /** Sets a node's link down (cut off) or up again. */
  async setLink(index: number, up: boolean): Promise<void> {
    const node = this.nodes.find((candidate) => candidate.index === index);
    if (node === undefined) throw new Error(`no node ${index} in this bed`);
    await ip("-n", node.namespace, "link", "set", "eth0", up ? "up" : "down");
  }

  /** Removes every container of each node's engine, stops the engines, then the namespaces and the bridge. */
  async cleanup(): Promise<void> {
    for (const node of this.nodes) {
      try {
        for (const container of await node.docker.listContainers({ all: true })) {
          await node.docker
            .getContainer(container.Id)
            .remove({ force: true })
            .catch(() => undefined);
        }
      } catch {
        // The engine is not running; its namespace and files are still removed below.
      }
      node.dockerd.kill("SIGTERM");
      const timer = setTimeout(() => node.dockerd.kill("SIGKILL"), 15_000);
      await node.exited;
      clearTimeout(timer);
      unmountBelow(node.directory);
    }
    this.removeNetworkSync();
    process.removeListener("exit", this.exitHandler);
    if (process.env.KOHAKURIVER_TEST_KEEP !== "1") rmSync(this.directory, { recursive: true, force: true });
  }

  /** Deletes the namespaces (which deletes their veth pairs) and the bridge; safe to call twice. */
  private removeNetworkSync(): void {
    for (const node of this.nodes) {
      if (node.dockerd.exitCode === null && node.dockerd.signalCode === null) node.dockerd.kill("SIGKILL");
      try {
        execFileSync("ip", ["netns", "del", node.namespace], { stdio: "ignore" });
      } catch {
        // Already deleted.
      }
    }
    if (this.bridgeCreated) {
      try {
        execFileSync("ip", ["link", "del", this.bridge], { stdio: "ignore" });
      } catch {
        // Already deleted.
      }
      this.bridgeCreated = false;
    }
  }
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run("ip", args);
  } catch (error) {
    throw new Error(`ip ${args.join(" ")} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
  }
}

/** Unmounts what a killed dockerd left mounted below a directory (overlay layers, its exec root), deepest first. */
function unmountBelow(directory: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(`${directory}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) {
    try {
      execFileSync("umount", ["-l", mountPoint], { stdio: "ignore" });
    } catch {
      // Already unmounted.
    }
  }
}
