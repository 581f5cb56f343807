/**
 * The file API and the change-watch WebSocket end to end, through the host: a task container on a runner
 * (relayed by the host) and an environment container on the host's own Engine. Content must round-trip
 * byte for byte, hostile file names must be taken literally, and kernel paths must be rejected.
 */

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import { runExec } from "@kohakuriver/access";
import WebSocket from "ws";

import { docker, dockerSkip, useCluster, useEnvironmentContainer, waitFor } from "./harness.js";

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

const KERNEL_PATHS = ["/proc", "/proc/self/environ", "/sys/kernel", "/dev/null", "/dev", "/tmp/../proc/1"];
/** Names that a shell would split, expand or run; the API must create, list and remove them literally. */
const HOSTILE_NAMES = [
  "with space",
  "single'quote",
  'double"quote',
  "new\nline",
  "$(touch pwned)",
  "`touch pwned`",
  "semi;colon && touch pwned",
  "pipe | touch pwned",
  "-rf",
  "ünïcødé ✓",
];

describe("file API through the host", { skip: dockerSkip }, () => {
  const { cluster, node } = useCluster();
  let taskId = "";
  const environment = useEnvironmentContainer(cluster, "e2e-files");

  async function call(method: string, path: string, body?: unknown): Promise<Reply> {
    const response = await fetch(`http://127.0.0.1:${cluster.hostPort}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: response.status, body: parsed };
  }

  /** Builds a query string; every value is percent-encoded, newlines included. */
  function query(values: Record<string, string | boolean | number>): string {
    return new URLSearchParams(
      Object.entries(values).map(([key, value]): [string, string] => [key, String(value)]),
    ).toString();
  }

  /** Calls one file operation under `base` (`/api/fs/{id}` or `/api/fs/container/{name}`). */
  function fileApi(base: () => string) {
    return {
      list: (path: string, showHidden = false) =>
        call("GET", `${base()}/list?${query({ path, show_hidden: showHidden })}`),
      read: (path: string, encoding = "utf-8", limit?: number) =>
        call("GET", `${base()}/read?${query({ path, encoding, ...(limit === undefined ? {} : { limit }) })}`),
      write: (path: string, content: string, encoding = "utf-8", createParents = true) =>
        call("POST", `${base()}/write`, { path, content, encoding, create_parents: createParents }),
      mkdir: (path: string, parents = true) => call("POST", `${base()}/mkdir`, { path, parents }),
      rename: (source: string, destination: string, overwrite = false) =>
        call("POST", `${base()}/rename`, { source, destination, overwrite }),
      remove: (path: string, recursive = false) => call("DELETE", `${base()}/delete?${query({ path, recursive })}`),
      stat: (path: string) => call("GET", `${base()}/stat?${query({ path })}`),
    };
  }

  const task = fileApi(() => `/api/fs/${taskId}`);
  const env = fileApi(() => `/api/fs/container/${environment}`);

  /** Runs a command in the task's container, as a user with a terminal would. */
  async function execInTask(argv: string[]): Promise<void> {
    const [container] = await cluster.containers(taskId);
    assert.ok(container !== undefined, "the task has no container");
    const exec = await docker.getContainer(container.Id).exec({ Cmd: argv });
    const stream = await exec.start({});
    stream.resume();
    await new Promise((resolve) => stream.on("end", resolve));
  }

  before(async () => {
    const { task_ids } = await cluster.client.submit({
      command: "sleep",
      arguments: ["600"],
      shell: false,
      targets: [node()],
    });
    taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");
  });

  it("binary content round-trips", async () => {
    const bytes = Buffer.from(Array.from({ length: 1024 }, (_, index) => index % 256));
    const written = await task.write("/root/binary.bin", bytes.toString("base64"), "base64");
    assert.equal(written.status, 200, JSON.stringify(written.body));
    assert.equal(written.body.size, 1024);

    const read = await task.read("/root/binary.bin", "base64");
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.truncated, false);
    assert.equal(read.body.size, 1024);
    assert.deepEqual(Buffer.from(read.body.content as string, "base64"), bytes);

    const stat = await task.stat("/root/binary.bin");
    assert.equal(stat.body.is_binary, true);
    const asText = await task.read("/root/binary.bin", "utf-8");
    assert.equal(asText.status, 400, "binary content read as UTF-8 must be rejected, not altered");
    assert.equal(asText.body.field, "encoding");
  });

  it("20 MB file round-trips", async () => {
    const bytes = randomBytes(20 * 1024 * 1024);
    const digest = createHash("sha256").update(bytes).digest("hex");
    const written = await task.write("/root/big/random.bin", bytes.toString("base64"), "base64");
    assert.equal(written.status, 200, JSON.stringify(written.body).slice(0, 500));
    assert.equal(written.body.size, bytes.length);

    const read = await task.read("/root/big/random.bin", "base64");
    assert.equal(read.status, 200, JSON.stringify(read.body).slice(0, 500));
    assert.equal(read.body.truncated, false);
    assert.equal(read.body.size, bytes.length);
    const back = Buffer.from(read.body.content as string, "base64");
    assert.equal(back.length, bytes.length);
    assert.equal(createHash("sha256").update(back).digest("hex"), digest);

    const head = await task.read("/root/big/random.bin", "base64", 1000);
    assert.equal(head.body.truncated, true);
    assert.deepEqual(Buffer.from(head.body.content as string, "base64"), bytes.subarray(0, 1000));
  });

  it("hostile file names are literal", async () => {
    const directory = "/root/names";
    assert.equal((await task.mkdir(directory)).status, 200);
    for (const name of HOSTILE_NAMES) {
      const path = `${directory}/${name}`;
      const written = await task.write(path, `content of ${name}`);
      assert.equal(written.status, 200, `write ${JSON.stringify(name)}: ${JSON.stringify(written.body)}`);

      const listed = await task.list(directory);
      const names = (listed.body.entries as Array<{ name: string }>).map((entry) => entry.name);
      assert.ok(names.includes(name), `list lacks ${JSON.stringify(name)}: ${JSON.stringify(names)}`);

      const stat = await task.stat(path);
      assert.equal(stat.status, 200, `stat ${JSON.stringify(name)}: ${JSON.stringify(stat.body)}`);
      assert.equal(stat.body.name, name);
      assert.equal(stat.body.type, "file");

      const renamed = `${directory}/${name} renamed`;
      const moved = await task.rename(path, renamed);
      assert.equal(moved.status, 200, `rename ${JSON.stringify(name)}: ${JSON.stringify(moved.body)}`);
      const read = await task.read(renamed);
      assert.equal(read.body.content, `content of ${name}`);

      const deleted = await task.remove(renamed);
      assert.equal(deleted.status, 200, `delete ${JSON.stringify(name)}: ${JSON.stringify(deleted.body)}`);
      assert.equal((await task.stat(renamed)).status, 404);
    }
    // A `/` inside `$(…)` splits it into directories, which must be created and removed as such.
    const nested = `${directory}/$(touch /tmp/pwned)`;
    assert.equal((await task.write(nested, "nested")).status, 200);
    assert.equal((await task.read(nested)).body.content, "nested");
    const inner = await task.list(`${directory}/$(touch /tmp`);
    assert.deepEqual(
      (inner.body.entries as Array<{ name: string }>).map((entry) => entry.name),
      ["pwned)"],
    );
    assert.equal((await task.remove(`${directory}/$(touch `, true)).status, 200);

    for (const path of ["/tmp/pwned", "/pwned", `${directory}/pwned`, "/root/pwned"]) {
      const pwned = await task.stat(path);
      assert.equal(pwned.status, 404, `${path} exists: a file name was run as a command`);
    }
    const left = await task.list(directory, true);
    assert.deepEqual(left.body.entries, [], "names were not removed literally");
  });

  it("kernel paths rejected for every operation", async () => {
    await task.write("/root/plain.txt", "plain");
    for (const path of KERNEL_PATHS) {
      const replies: Array<[string, Reply]> = [
        ["list", await task.list(path)],
        ["read", await task.read(path)],
        ["write", await task.write(path, "x")],
        ["mkdir", await task.mkdir(`${path}/new`)],
        ["rename source", await task.rename(path, "/root/moved")],
        ["rename destination", await task.rename("/root/plain.txt", path, true)],
        ["delete", await task.remove(path, true)],
        ["stat", await task.stat(path)],
      ];
      for (const [operation, reply] of replies) {
        assert.equal(reply.status, 400, `${operation} ${path}: ${JSON.stringify(reply.body)}`);
        assert.match(reply.body.detail as string, /is under \/(proc|sys|dev)/, `${operation} ${path}`);
      }
    }
    assert.equal((await task.read("/root/plain.txt")).body.content, "plain");
  });

  it("symlinks into kernel paths rejected", async () => {
    await execInTask(["ln", "-s", "/proc", "/root/proc-link"]);
    await execInTask(["ln", "-s", "/dev/null", "/root/null-link"]);
    await execInTask(["ln", "-s", "/root/proc-link", "/root/link-to-link"]);
    const cases: Array<[string, Reply]> = [
      ["list through a link", await task.list("/root/proc-link")],
      ["read below a link", await task.read("/root/proc-link/self/environ")],
      ["read a link to a device", await task.read("/root/null-link")],
      ["write a link to a device", await task.write("/root/null-link", "x")],
      ["stat a link", await task.stat("/root/proc-link")],
      ["read through two links", await task.read("/root/link-to-link/self/status")],
      ["mkdir through a link", await task.mkdir("/root/proc-link/new")],
    ];
    for (const [what, reply] of cases) {
      assert.equal(reply.status, 400, `${what}: ${JSON.stringify(reply.body)}`);
      assert.match(reply.body.detail as string, /resolves to "\/(proc|dev)/, what);
    }
    // The link itself may still be removed.
    assert.equal((await task.remove("/root/null-link")).status, 200);
  });

  it("relative paths and dot-dot", async () => {
    const relative = await task.read("etc/hostname");
    assert.equal(relative.status, 400);
    assert.equal(relative.body.field, "path");
    assert.match(relative.body.detail as string, /not an absolute path/);

    const renameRelative = await task.rename("/root/plain.txt", "plain-copy.txt");
    assert.equal(renameRelative.status, 400);
    assert.equal(renameRelative.body.field, "destination");

    await task.write("/root/dots.txt", "dots");
    const dotted = await task.read("/root/./sub/../dots.txt");
    assert.equal(dotted.status, 200, JSON.stringify(dotted.body));
    assert.equal(dotted.body.path, "/root/dots.txt");
    assert.equal(dotted.body.content, "dots");

    // `..` above / stays at /, as the kernel resolves it.
    const above = await task.stat("/../../../root/dots.txt");
    assert.equal(above.status, 200, JSON.stringify(above.body));
    assert.equal(above.body.path, "/root/dots.txt");
  });

  it("errors map to statuses", async () => {
    const missing = await task.read("/root/no-such-file");
    assert.equal(missing.status, 404);
    assert.match(missing.body.detail as string, /not found/);

    await task.write("/root/first.txt", "first");
    await task.write("/root/second.txt", "second");
    const clash = await task.rename("/root/first.txt", "/root/second.txt");
    assert.equal(clash.status, 409);
    assert.match(clash.body.detail as string, /overwrite/);
    const replaced = await task.rename("/root/first.txt", "/root/second.txt", true);
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal((await task.read("/root/second.txt")).body.content, "first");
    assert.equal((await task.stat("/root/first.txt")).status, 404);

    await task.write("/root/tree/leaf.txt", "leaf");
    const directoryDelete = await task.remove("/root/tree");
    assert.equal(directoryDelete.status, 400);
    assert.match(directoryDelete.body.detail as string, /recursive=true/);
    assert.equal((await task.remove("/root/tree", true)).status, 200);
    assert.equal((await task.stat("/root/tree")).status, 404);

    const readDirectory = await task.read("/root");
    assert.equal(readDirectory.status, 400);
    const existing = await task.mkdir("/root", false);
    assert.equal(existing.status, 409);
    const noParent = await task.write("/root/absent/file.txt", "x", "utf-8", false);
    assert.equal(noParent.status, 404);
    assert.match(noParent.body.detail as string, /create_parents/);
    const badBase64 = await task.write("/root/bad.bin", "not base64!", "base64");
    assert.equal(badBase64.status, 400);
    assert.equal(badBase64.body.field, "content");
    const tooLarge = await task.read("/root/second.txt", "utf-8", 60 * 1024 * 1024);
    assert.equal(tooLarge.status, 400);
    const unknownTask = await call("GET", `/api/fs/1/stat?${query({ path: "/root" })}`);
    assert.equal(unknownTask.status, 404);
  });

  it("paths through files and overlong names", async () => {
    await task.write("/root/plain.txt", "plain");
    await execInTask(["ln", "-s", "/root/plain.txt", "/root/plain-link"]);
    for (const path of ["/root/plain.txt/x", "/root/plain-link/x", "/root/plain.txt/x/y"]) {
      const replies = [
        await task.stat(path),
        await task.read(path),
        await task.list(path),
        await task.write(path, "x"),
        await task.mkdir(path),
        await task.remove(path),
        await task.rename("/root/plain.txt", path),
      ];
      for (const reply of replies) {
        assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
        assert.match(reply.body.detail as string, /is not a directory/, path);
      }
    }

    const longName = `/root/${"a".repeat(256)}`;
    const longReplies = [
      await task.stat(longName),
      await task.write(longName, "x"),
      await task.mkdir(longName),
      await task.rename("/root/plain.txt", longName),
      await env.stat(longName),
    ];
    for (const reply of longReplies) {
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.match(reply.body.detail as string, /the limit is 255 bytes per name/);
    }
    // 3035 characters, within the schema's limit of 4096, but 6035 bytes.
    const deepPath = await task.write(`/root${`/${"é".repeat(100)}`.repeat(30)}`, "x");
    assert.equal(deepPath.status, 400);
    assert.match(deepPath.body.detail as string, /is 6035 bytes long; the limit is 4095 bytes/);
  });

  it("list describes entries", async () => {
    await task.mkdir("/root/listing/sub");
    await task.write("/root/listing/file.txt", "12345");
    await task.write("/root/listing/.hidden", "h");
    await execInTask(["ln", "-s", "/root/listing/file.txt", "/root/listing/link"]);

    const listed = await task.list("/root/listing");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.equal(listed.body.parent, "/root");
    const entries = listed.body.entries as Array<Record<string, unknown>>;
    assert.deepEqual(
      entries.map((entry) => entry.name),
      ["file.txt", "link", "sub"],
    );
    const [file, link, sub] = entries;
    assert.equal(file?.type, "file");
    assert.equal(file?.size, 5);
    assert.equal(file?.permissions, "rw-r--r--");
    assert.equal(file?.path, "/root/listing/file.txt");
    assert.equal(link?.type, "symlink");
    assert.equal(link?.link_target, "/root/listing/file.txt");
    assert.equal(sub?.type, "directory");
    assert.equal(sub?.size, -1);

    const hidden = await task.list("/root/listing", true);
    assert.ok((hidden.body.entries as Array<{ name: string }>).some((entry) => entry.name === ".hidden"));
    const notDirectory = await task.list("/root/listing/file.txt");
    assert.equal(notDirectory.status, 400);
  });

  it("environment container files", async () => {
    const written = await env.write("/root/env dir/$(touch x).txt", "in the environment");
    assert.equal(written.status, 200, JSON.stringify(written.body));
    const read = await env.read("/root/env dir/$(touch x).txt");
    assert.equal(read.body.content, "in the environment");
    const listed = await env.list("/root/env dir");
    assert.deepEqual(
      (listed.body.entries as Array<{ name: string }>).map((entry) => entry.name),
      ["$(touch x).txt"],
    );
    const stat = await env.stat("/root/env dir/$(touch x).txt");
    assert.equal(stat.body.owner, "root");
    assert.equal(stat.body.size, 18);
    assert.equal((await env.mkdir("/root/env dir/sub")).status, 200);
    const moved = await env.rename("/root/env dir/$(touch x).txt", "/root/env dir/sub/moved.txt");
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await env.read("/root/env dir/sub/moved.txt")).body.content, "in the environment");
    assert.equal((await env.remove("/root/env dir")).status, 400);
    assert.equal((await env.remove("/root/env dir", true)).status, 200);
    assert.equal((await env.stat("/root/env dir")).status, 404);
    assert.equal((await env.stat("/x")).status, 404);

    const binary = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    await env.write("/root/binary.bin", binary.toString("base64"), "base64");
    const back = await env.read("/root/binary.bin", "base64");
    assert.deepEqual(Buffer.from(back.body.content as string, "base64"), binary);

    for (const path of KERNEL_PATHS) {
      const reply = await env.read(path);
      assert.equal(reply.status, 400, `read ${path}: ${JSON.stringify(reply.body)}`);
    }
    const unknown = await call("GET", `/api/fs/container/no-such-env-${cluster.id}/stat?${query({ path: "/" })}`);
    assert.equal(unknown.status, 404);
  });

  it("cli put, get, ls and cat", async () => {
    const bytes = randomBytes(100_000);
    const local = join(cluster.dir, "upload.bin");
    writeFileSync(local, bytes);
    const put = await cluster.cli(["fs", "put", taskId, local, "/root/cli dir/upload.bin"]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /Wrote 100000 bytes to \/root\/cli dir\/upload\.bin/);

    const downloaded = join(cluster.dir, "download.bin");
    const get = await cluster.cli(["fs", "get", taskId, "/root/cli dir/upload.bin", downloaded]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(readFileSync(downloaded), bytes);

    const listed = await cluster.cli(["fs", "ls", taskId, "/root/cli dir"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /-rw-r--r--\s+100000\s+.*upload\.bin/);

    await task.write("/root/cli dir/note.txt", "a note\n");
    const cat = await cluster.cli(["fs", "cat", taskId, "/root/cli dir/note.txt"]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "a note\n");

    const rejected = await cluster.cli(["fs", "cat", taskId, "/proc/self/environ"]);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /is under \/proc/);
  });

  it("watch reports changes within 2 s", async () => {
    await task.mkdir("/shared/watched");
    const socket = new WebSocket(
      `ws://127.0.0.1:${cluster.hostPort}/ws/fs/${taskId}/watch?${query({ paths: "/shared/watched,/no/such/dir" })}`,
    );
    const frames: Array<{ at: number; frame: Record<string, unknown> }> = [];
    socket.on("message", (data: Buffer) => frames.push({ at: Date.now(), frame: JSON.parse(data.toString()) }));
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });

    try {
      await waitFor(async () => frames.some(({ frame }) => frame.type === "watching"), 10_000, "no watching frame");
      const watching = frames.find(({ frame }) => frame.type === "watching")?.frame;
      assert.deepEqual(watching?.paths, ["/shared/watched"]);
      assert.equal(watching?.method, "polling");
      assert.ok(
        frames.some(({ frame }) => frame.type === "error" && /no\/such\/dir/.test(frame.message as string)),
        "the missing directory is not reported",
      );

      socket.send(JSON.stringify({ type: "ping" }));
      await waitFor(async () => frames.some(({ frame }) => frame.type === "pong"), 2000, "no pong");

      const file = "/shared/watched/new file.txt";
      const steps: Array<[string, () => Promise<Reply>]> = [
        ["CREATE", () => task.write(file, "one")],
        ["MODIFY", () => task.write(file, "two, longer")],
        ["DELETE", () => task.remove(file)],
      ];
      for (const [event, change] of steps) {
        const started = Date.now();
        const reply = await change();
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        await waitFor(
          async () =>
            frames.some(
              ({ at, frame }) =>
                at >= started && frame.type === "change" && frame.event === event && frame.path === file,
            ),
          2000,
          `no ${event} event for ${file} (frames: ${JSON.stringify(frames.map(({ frame }) => frame))})`,
          20,
        );
        const seen = frames.find(
          ({ at, frame }) => at >= started && frame.type === "change" && frame.event === event,
        ) as { at: number; frame: Record<string, unknown> };
        assert.ok(seen.at - started <= 2000, `${event} reported after ${seen.at - started} ms`);
        assert.equal(seen.frame.is_dir, false);
      }
    } finally {
      socket.close();
    }
  });

  it("watch of / leaves out kernel paths", async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${cluster.hostPort}/ws/fs/${taskId}/watch?${query({ paths: "/" })}`);
    const frames: Array<Record<string, unknown>> = [];
    socket.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    try {
      await waitFor(async () => frames.some((frame) => frame.type === "watching"), 10_000, "no watching frame");
      assert.equal(frames.find((frame) => frame.type === "watching")?.method, "polling");
      await execInTask(["touch", "/dev/watch-probe", "/root/watch-probe"]);
      await waitFor(
        async () => frames.some((frame) => frame.type === "change" && frame.path === "/root/watch-probe"),
        3000,
        `no change frame for /root/watch-probe (frames: ${JSON.stringify(frames).slice(0, 2000)})`,
      );
      // Another poll, in which the processes of the previous one have left /proc.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const kernelPaths = frames.filter(
        (frame) => frame.type === "change" && /^\/(proc|sys|dev)(\/|$)/.test(frame.path as string),
      );
      assert.deepEqual(kernelPaths, []);
      const warnings = frames.filter((frame) => frame.type === "error");
      assert.deepEqual(warnings, []);
    } finally {
      socket.close();
    }
  });

  it("watch streams inotifywait and ends it", async () => {
    // The test images have no inotify-tools, so a stand-in script prints inotifywait's `%e|%w%f` lines:
    // this checks the streaming and that the process is killed when the client goes away.
    const fake = "/usr/local/bin/inotifywait";
    const script = [
      "#!/bin/sh",
      'if [ "$1" = "--help" ]; then exit 0; fi',
      "for directory; do :; done",
      'while true; do echo "CREATE,ISDIR|$directory/fake entry"; sleep 0.2; done',
      "",
    ].join("\n");
    assert.equal((await task.write(fake, script)).status, 200);
    await execInTask(["chmod", "755", fake]);
    assert.equal((await task.mkdir("/shared/watched")).status, 200);
    const processes = async (): Promise<string> => {
      const [container] = await cluster.containers(taskId);
      const result = await runExec(docker.getContainer((container as { Id: string }).Id), ["ps", "-o", "pid,args"]);
      return result.stdout.toString("utf8");
    };

    const socket = new WebSocket(
      `ws://127.0.0.1:${cluster.hostPort}/ws/fs/${taskId}/watch?${query({ paths: "/shared/watched" })}`,
    );
    const frames: Array<Record<string, unknown>> = [];
    socket.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    try {
      await waitFor(async () => frames.some((frame) => frame.type === "watching"), 10_000, "no watching frame");
      assert.equal(frames.find((frame) => frame.type === "watching")?.method, "inotify");
      await waitFor(
        async () => frames.some((frame) => frame.type === "change" && frame.path === "/shared/watched/fake entry"),
        3000,
        `no change frame (frames: ${JSON.stringify(frames)})`,
      );
      const change = frames.find((frame) => frame.type === "change");
      assert.equal(change?.event, "CREATE");
      assert.equal(change?.is_dir, true);
      assert.match(await processes(), /inotifywait -m -r/);
    } finally {
      const closed = new Promise((resolve) => socket.once("close", resolve));
      socket.close();
      if (socket.readyState !== WebSocket.CLOSED) await closed;
    }
    await waitFor(async () => !/inotifywait/.test(await processes()), 5000, "inotifywait still runs after the close");
    assert.equal((await task.remove(fake)).status, 200);
  });

  it("watch without valid paths closes", async () => {
    const socket = new WebSocket(
      `ws://127.0.0.1:${cluster.hostPort}/ws/fs/${taskId}/watch?${query({ paths: "/proc,/root/plain.txt" })}`,
    );
    const frames: Array<Record<string, unknown>> = [];
    socket.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    const code = await new Promise<number>((resolve) => socket.once("close", resolve));
    assert.equal(code, 1008);
    assert.equal(frames[0]?.type, "error");
    assert.match(frames[0]?.message as string, /No valid paths to watch/);
  });
});
