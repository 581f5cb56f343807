/**
 * Port forwarding end to end: `kohakuriver forward` from dist as its own process, the host and a runner as
 * separate processes, and task containers on the real Docker Engine. Every connection goes CLI → host →
 * runner → the container's address on the cluster's bridge network.
 */

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { get } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { WebSocketRefusedError, openWebSocket } from "@kohakuriver/access";

import { dockerSkip, freePort, useCluster, waitFor, type LongRunningCli } from "./harness.js";

const DEBIAN_IMAGE = "kohakuriver-test/debian-nosshd:bookworm";
const PAGE = "page served through the forward";

/** Fetches a page over a connection of its own (no keep-alive), so parallel requests are parallel connections. */
function fetchPage(port: number, path = "/index.html"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get({ host: "127.0.0.1", port, path, agent: false, timeout: 15_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error("request timed out")));
    request.on("error", reject);
  });
}

/** Fetches the page until it comes with status 200 and returns its body; httpd may still be starting. */
async function waitForPage(port: number): Promise<string> {
  let page = { status: 0, body: "" };
  await waitFor(
    async () => {
      page = await fetchPage(port);
      return page.status === 200;
    },
    15_000,
    "the page did not come through the forward",
  );
  return page.body;
}

/** Resident memory of a process in bytes, from /proc/PID/status. */
function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(match, `no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Connects until a connection returns data (the server in the container may still be starting), then
 * pauses it after the first chunk.
 */
async function connectUntilData(port: number): Promise<{ socket: Socket; firstChunk: number }> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => undefined);
    const firstChunk = await new Promise<number>((resolve) => {
      socket.once("data", (chunk: Buffer) => {
        socket.pause();
        resolve(chunk.length);
      });
      socket.once("close", () => resolve(0));
    });
    if (firstChunk > 0) return { socket, firstChunk };
    await sleep(250);
  }
  throw new Error(`no data came through the forward on port ${port} within 20 s`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("port forwarding through the CLI", { skip: dockerSkip }, () => {
  const { cluster, node } = useCluster();
  const forwards: LongRunningCli[] = [];
  let httpTask = "";

  async function submit(command: string, registryImage?: string): Promise<string> {
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: ["-c", command],
      shell: false,
      targets: [node()],
      ...(registryImage === undefined ? {} : { registry_image: registryImage }),
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
    return taskId;
  }

  async function startForward(args: string[]): Promise<{ forward: LongRunningCli; localPort: number }> {
    const localPort = await freePort();
    const forward = cluster.spawnCli(["forward", ...args, "-l", String(localPort)]);
    forwards.push(forward);
    await forward.waitForOutput(/Forwarding 127\.0\.0\.1:\d+ -> task \d+ port \d+ \((tcp|udp)\); Ctrl-C to stop/);
    return { forward, localPort };
  }

  before(async () => {
    httpTask = await submit(
      `mkdir -p /tmp/www && echo '${PAGE}' > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`,
    );
  });

  after(async () => {
    for (const forward of forwards) await forward.stop("SIGKILL");
  });

  it("serves a page through the forward", async () => {
    const { forward, localPort } = await startForward([httpTask, "8080"]);
    assert.match(
      forward.stdout,
      new RegExp(`Forwarding 127\\.0\\.0\\.1:${localPort} -> task ${httpTask} port 8080 \\(tcp\\)`),
    );
    assert.equal(await waitForPage(localPort), `${PAGE}\n`);

    const pages = await Promise.all(Array.from({ length: 50 }, () => fetchPage(localPort)));
    assert.deepEqual(
      pages.map((each) => each.status),
      Array.from({ length: 50 }, () => 200),
    );
    assert.ok(
      pages.every((each) => each.body === `${PAGE}\n`),
      "a parallel request returned another body",
    );

    assert.equal(await forward.stop(), 0, `stderr: ${forward.stderr}`);
  });

  it("reports a closed container port", async () => {
    const { forward, localPort } = await startForward([httpTask, "9999"]);
    for (const attempt of [1, 2]) {
      const socket = connect({ host: "127.0.0.1", port: localPort });
      socket.on("error", () => undefined);
      let received = 0;
      socket.on("data", (chunk: Buffer) => (received += chunk.length));
      await once(socket, "close");
      assert.equal(received, 0, `attempt ${attempt} received data`);
    }
    await waitFor(
      async () => (forward.stderr.match(/Connection failed: connect ECONNREFUSED/g) ?? []).length === 2,
      10_000,
      () => `the CLI did not report both refused connections; stderr: ${forward.stderr}`,
    );
    // The session outlives the failed connections.
    assert.equal(await Promise.race([forward.exited, sleep(200).then(() => "running")]), "running");
    assert.equal(await forward.stop(), 0);
  });

  it("rejects a task that is not running", async () => {
    const { task_ids } = await cluster.client.submit({ command: "true", shell: false, targets: [node()] });
    const finished = task_ids[0] as string;
    await cluster.waitForStatus(finished, "completed");
    const result = await cluster.cli(["forward", finished, "80", "-l", String(await freePort())]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`task ${finished} is completed, not running`));

    const unknown = await cluster.cli(["forward", "123456789", "80", "-l", String(await freePort())]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /123456789/);
  });

  it("rejects an invalid port or protocol", async () => {
    const base = `ws://127.0.0.1:${cluster.hostPort}/ws/forward/${httpTask}`;
    for (const [path, field] of [
      ["/0", /port/],
      ["/65536", /port/],
      ["/http", /port/],
      ["/80?proto=sctp", /proto/],
    ] as const) {
      await assert.rejects(openWebSocket(`${base}${path}`), (error: Error) => {
        assert.ok(error instanceof WebSocketRefusedError, `${path}: ${String(error)}`);
        assert.equal(error.status, 400, `${path}: ${error.detail}`);
        assert.match(error.detail, field, path);
        return true;
      });
    }

    const cli = await cluster.cli(["forward", httpTask, "70000"]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /invalid port '70000'/);
    const proto = await cluster.cli(["forward", httpTask, "80", "-p", "sctp"]);
    assert.equal(proto.code, 2);
    assert.match(proto.stderr, /invalid protocol 'sctp'/);
  });

  it("echoes UDP datagrams", async (t) => {
    const task = await submit(
      `exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>9000,Proto=>"udp") or die $!; while(1){ $s->recv($m,65535); $s->send($m) }'`,
      DEBIAN_IMAGE,
    );
    // Each running task reserves a core, and the machine may have only two.
    t.after(() => cluster.client.kill(task).catch(() => undefined));
    const { forward, localPort } = await startForward([task, "9000", "--proto", "udp"]);
    const peer = createSocket("udp4");
    peer.bind(0, "127.0.0.1");
    await once(peer, "listening");
    const replies = new Set<string>();
    peer.on("message", (datagram: Buffer) => replies.add(datagram.toString()));
    try {
      // perl may still be starting, so the first datagrams can be lost; send until one comes back.
      await waitFor(
        async () => {
          peer.send("probe", localPort, "127.0.0.1");
          return replies.has("probe");
        },
        20_000,
        () => `no UDP echo came back; CLI stderr: ${forward.stderr}`,
        250,
      );
      const sent = Array.from({ length: 20 }, (_, index) => `datagram ${index}`);
      for (const text of sent) peer.send(text, localPort, "127.0.0.1");
      await waitFor(
        async () => sent.every((text) => replies.has(text)),
        10_000,
        () => `missing echoes: ${sent.filter((text) => !replies.has(text)).join(", ")}`,
      );
    } finally {
      peer.close();
    }
    assert.equal(await forward.stop(), 0);
  });

  it("bounds memory behind a stalled reader", async (t) => {
    // The container offers 4 GB on every connection, far more than any buffer on the way could hold.
    const task = await submit("exec nc -ll -p 9001 -e head -c 4000000000 /dev/zero");
    t.after(() => cluster.client.kill(task).catch(() => undefined));
    const { forward, localPort } = await startForward([task, "9001"]);
    const pids = {
      host: cluster.daemonPid("host") as number,
      runner: cluster.daemonPid(0) as number,
      cli: forward.pid as number,
    };

    const { socket: reader, firstChunk } = await connectUntilData(localPort);
    let received = firstChunk;
    await sleep(1000);
    const before = { host: residentBytes(pids.host), runner: residentBytes(pids.runner), cli: residentBytes(pids.cli) };
    await sleep(4000);
    const stalled = {
      host: residentBytes(pids.host),
      runner: residentBytes(pids.runner),
      cli: residentBytes(pids.cli),
    };
    for (const name of ["host", "runner", "cli"] as const) {
      const growth = stalled[name] - before[name];
      assert.ok(growth < 100e6, `${name} grew by ${(growth / 1e6).toFixed(0)} MB behind a stalled reader`);
    }

    // The data was held back, not lost: reading again drains far more than all the buffers together.
    reader.on("data", (chunk: Buffer) => (received += chunk.length));
    reader.resume();
    await waitFor(
      async () => received > 300e6,
      60_000,
      () => `only ${received} bytes arrived after resuming`,
    );
    reader.destroy();
    assert.equal(await forward.stop(), 0, `stderr: ${forward.stderr}`);
  });
});

describe("port forwarding with authentication", { skip: dockerSkip }, () => {
  const ADMIN_SECRET = "e2e-admin-secret-forward-0123456789";
  const { cluster, node } = useCluster({ host: { AUTH_ENABLED: true, ADMIN_SECRET } });
  const homes = { operator: "", user: "" };
  let taskId = "";

  before(async () => {
    for (const [role, username] of [
      ["operator", "otto"],
      ["user", "uma"],
    ] as const) {
      homes[role] = join(cluster.dir, `home-${role}`);
      const invitation = await cluster.client.createInvitation({ role });
      const result = await cluster.cli(
        ["auth", "register", "--invite", invitation.token, "-u", username, "-p", `${username}-password-1`],
        { env: { KOHAKURIVER_HOME: homes[role] } },
      );
      assert.equal(result.code, 0, result.stderr);
    }
    // Submitted with the admin secret, so the `user` account does not own it.
    const { task_ids } = await cluster.client.submit({
      command: "sh",
      arguments: [
        "-c",
        `mkdir -p /tmp/www && echo '${PAGE}' > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`,
      ],
      shell: false,
      targets: [node()],
    });
    taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
  });

  it("forwards with an operator's token", async () => {
    const localPort = await freePort();
    const forward = cluster.spawnCli(["forward", taskId, "8080", "-l", String(localPort)], {
      env: { KOHAKURIVER_HOME: homes.operator },
    });
    try {
      await forward.waitForOutput(/Ctrl-C to stop/);
      assert.equal(await waitForPage(localPort), `${PAGE}\n`);
    } finally {
      assert.equal(await forward.stop(), 0, `stderr: ${forward.stderr}`);
    }
  });

  it("rejects a user who does not own the task", async () => {
    const result = await cluster.cli(["forward", taskId, "8080", "-l", String(await freePort())], {
      env: { KOHAKURIVER_HOME: homes.user },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the host rejected the forward \(HTTP 403\): \S+/);
  });

  it("rejects a socket without a token", async () => {
    await assert.rejects(
      openWebSocket(`ws://127.0.0.1:${cluster.hostPort}/ws/forward/${taskId}/8080`),
      (error: Error) => {
        assert.ok(error instanceof WebSocketRefusedError, String(error));
        assert.equal(error.status, 401);
        assert.match(error.detail, /authentication required/);
        return true;
      },
    );
  });
});
