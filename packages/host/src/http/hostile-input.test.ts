/**
 * Hostile and malformed requests against a real host: no 5xx, every 4xx carries a `detail` and a `code`,
 * and nothing that a rejected request sends changes the stored tasks or nodes.
 *
 * A fake runner (a plain HTTP server on loopback) accepts dispatches, so one task really runs and one
 * waits in the queue while the requests arrive. No Docker Engine is needed. The random bodies come from a
 * seeded generator, so a run always sends the same requests. Set KOHAKURIVER_FUZZ_SEED to try another seed.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";

import { resolveHostConfig, type HostConfig } from "../config.js";
import { startHost, type HostHandle } from "../host.js";

const SEED = Number(process.env.KOHAKURIVER_FUZZ_SEED ?? 20261204);
const RANDOM_REQUESTS = 3000;
const NODE = "fuzz-node";

interface Response {
  status: number;
  text: string;
  body: unknown;
}

type TokenChoice = "cluster" | "none" | "wrong";

interface RequestSpec {
  method: string;
  /** Sent as written, so that percent-encoding and `..` reach the server unchanged. */
  path: string;
  body?: string;
  contentType?: string | null;
  token?: TokenChoice;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
let dataDir: string;
let config: HostConfig;
let host: HostHandle;
let fakeRunner: Server;
let runningTaskId: string;
let pendingTaskId: string;

function send(spec: RequestSpec): Promise<Response> {
  const headers: Record<string, string | number> = {};
  const contentType = spec.contentType === undefined ? "application/json" : spec.contentType;
  if (spec.body !== undefined && contentType !== null) headers["content-type"] = contentType;
  if (spec.body !== undefined) headers["content-length"] = Buffer.byteLength(spec.body);
  if (spec.token === "cluster") headers.authorization = `Bearer ${host.clusterToken}`;
  if (spec.token === "wrong") headers.authorization = `Bearer ${"0".repeat(64)}`;

  const url = new URL(host.url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: url.hostname, port: url.port, method: spec.method, path: spec.path, headers, agent, timeout: 10_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON: kept as text, and the checks below report it.
          }
          resolve({ status: response.statusCode ?? 0, text, body });
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no response to ${spec.method} ${spec.path} in 10 s`)));
    request.on("error", reject);
    request.end(spec.body);
  });
}

function describeRequest(spec: RequestSpec, response: Response): string {
  const body = spec.body === undefined ? "" : ` ${spec.body.length > 300 ? `${spec.body.slice(0, 300)}…` : spec.body}`;
  const reply = response.text.length > 300 ? `${response.text.slice(0, 300)}…` : response.text;
  return `${spec.method} ${spec.path.slice(0, 200)}${body} (token ${spec.token ?? "none"}) → ${response.status} ${reply}`;
}

/** Checks the error body: `detail` and `code` are strings, and a `field`, when present, appears in `detail`. */
function assertErrorBody(response: Response, context: string): void {
  const body = response.body as { detail?: unknown; code?: unknown; field?: unknown } | null;
  assert.equal(typeof body?.detail, "string", `no string detail: ${context}`);
  assert.ok((body?.detail as string).length > 0, `empty detail: ${context}`);
  assert.equal(typeof body?.code, "string", `no string code: ${context}`);
  if (typeof body?.field === "string") {
    assert.ok((body.detail as string).includes(body.field), `detail does not name field ${body.field}: ${context}`);
  }
}

interface StateSnapshot {
  taskCount: number;
  storedNodes: unknown[];
  tasks: unknown[];
  liveNodes: unknown;
}

async function snapshotState(): Promise<StateSnapshot> {
  const nodes = await send({ method: "GET", path: "/api/nodes" });
  assert.equal(nodes.status, 200, nodes.text);
  return {
    taskCount: await host.store.countTasks(),
    storedNodes: (await host.store.listNodes()).map(({ hostname, url, total_cores, status }) => ({
      hostname,
      url,
      total_cores,
      status,
    })),
    tasks: await host.store.listTasks({ order: "oldest" }),
    liveNodes: nodes.body,
  };
}

async function assertHostAnswers(): Promise<void> {
  for (const path of ["/api/nodes", "/api/health", "/api/tasks", `/api/status/${runningTaskId}`]) {
    const response = await send({ method: "GET", path });
    assert.equal(response.status, 200, `GET ${path} → ${response.status} ${response.text.slice(0, 300)}`);
  }
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts a runner stand-in that accepts every dispatch, kill, pause and resume. */
async function startFakeRunner(): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: "accepted", task_id: "0", already_accepted: false }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

async function submit(body: object): Promise<string> {
  const response = await send({ method: "POST", path: "/api/submit", body: JSON.stringify(body) });
  assert.equal(response.status, 202, response.text);
  return (response.body as { task_ids: string[] }).task_ids[0] as string;
}

/** mulberry32: a small seeded generator with a 32-bit state. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  const int = (limit: number): number => Math.floor(next() * limit);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  return { next, int, pick };
}
type Random = ReturnType<typeof createRandom>;

const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth);
const text = (value: string): string => JSON.stringify(value);

/**
 * JSON values as raw text, so that `1e400` (Infinity once parsed), `-0` and duplicate keys reach the
 * server exactly as written.
 */
const HOSTILE_VALUES: readonly string[] = [
  "null",
  "true",
  "false",
  "0",
  "-0",
  "-1",
  "1.5",
  "1e308",
  "-1e308",
  "1e400",
  "-1e400",
  "5e-324",
  "9007199254740993",
  "9223372036854775808",
  "18446744073709551616",
  '""',
  '" "',
  '"\\u0000"',
  '"NaN"',
  '"Infinity"',
  '"-1"',
  '"1e3"',
  '"0x10"',
  '"../../etc/passwd"',
  '"%2e%2e%2f"',
  '"\\ud800"',
  '"😀"',
  '"<script>alert(1)</script>"',
  text("x".repeat(5000)),
  '"a b"',
  '"NULL"',
  "[]",
  "[null]",
  '[""]',
  "[[]]",
  "[1e400]",
  "{}",
  '{"a":1}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  nested(64),
];

const ODD_KEYS = ["__proto__", "constructor", "prototype", "toString", "", "extra", "\u0000"];

/** Raw bodies that are not a JSON object at all. */
function garbageBody(random: Random): string {
  switch (random.int(8)) {
    case 0:
      return '{"command":"echo"'.slice(0, 1 + random.int(16));
    case 1:
      return Array.from({ length: 1 + random.int(64) }, () => String.fromCharCode(random.int(128))).join("");
    case 2:
      return nested(1 + random.int(20_000));
    case 3:
      return '{"a":'.repeat(1 + random.int(2000));
    case 4:
      return random.pick(["null", "true", "1", '"text"', "[]", "[{}]", "1e400"]);
    case 5:
      return '{"command":"echo",}';
    case 6:
      return "{'command': 'echo'}";
    default:
      return "";
  }
}

/**
 * Builds a JSON object from a valid base, a few random hostile fields and one breaking field written last,
 * so that the breaking value wins over any duplicate key and the body is always invalid.
 */
function objectBody(random: Random, base: Record<string, string>, keys: readonly string[], breaking: [string, string]) {
  const entries = Object.entries(base);
  const noise = random.int(4);
  for (let index = 0; index < noise; index += 1) {
    const key = random.next() < 0.85 ? random.pick(keys) : random.pick(ODD_KEYS);
    entries.push([key, random.pick(HOSTILE_VALUES)]);
  }
  entries.push(breaking);
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;
}

const SUBMIT_KEYS = [
  "task_type",
  "command",
  "arguments",
  "shell",
  "env_vars",
  "required_cores",
  "required_gpus",
  "required_gpu_count",
  "required_memory_bytes",
  "targets",
  "container_name",
  "registry_image",
  "privileged",
  "additional_mounts",
  "ip_reservation_token",
  "name",
];

/** Values that make a submission invalid whatever the other fields hold. */
const SUBMIT_BREAKERS: ReadonlyArray<[string, string[]]> = [
  ["command", ['""', '"   "', "1", "null", "[]", text("x".repeat(131073))]],
  ["task_type", ['"vps"', '"batch"', '""', "null"]],
  ["required_cores", ["-1", "4097", "1e308", "1e400", '"1"', "null", "5"]],
  ["required_memory_bytes", ['"12Q"', "-5", "1.5", "true", '"1e308"', "1e17", "9e15"]],
  ["targets", ['["ghost"]', '["-bad"]', `["${NODE}:x"]`, `["${NODE}::0"]`, '["a::b::c"]', '[""]', '"fuzz-node"']],
  ["required_gpu_count", ["1", "-1", "1.5", "1025"]],
  ["env_vars", ['{"A-B":"x"}', '{"A":1}', '{"1A":"x"}', '{"":"x"}', '["A=1"]']],
  ["container_name", ['"NULL"', '"../x"', '"a b"', text("x".repeat(201))]],
  ["registry_image", ['"a b"', '"-x"', '""', "1"]],
  ["additional_mounts", ['["relative:/x"]', '["/a"]', '"/a:/b"', "[1]"]],
  ["shell", ['"true"', "1"]],
  ["arguments", ['"a b"', "[1]", "[null]"]],
  ["name", [text("x".repeat(101)), "1", "{}"]],
  ["privileged", ['"yes"', "1"]],
];

const VPS_KEYS = [
  "name",
  "required_cores",
  "required_gpus",
  "required_memory_bytes",
  "target_hostname",
  "target_numa_node_id",
  "container_name",
  "registry_image",
  "ssh_key_mode",
  "ssh_public_key",
  "vps_backend",
  "privileged",
  "additional_mounts",
];

/** Values that make a VPS creation invalid whatever the other fields hold. */
const VPS_BREAKERS: ReadonlyArray<[string, string[]]> = [
  ["ssh_key_mode", ['"password"', '""', "1", "null", '"UPLOAD"']],
  [
    "ssh_public_key",
    ['"not a key"', '"ssh-ed25519"', `"command=\\"id\\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"`, "1"],
  ],
  ["required_cores", ["-1", "4097", '"1"', "1e400"]],
  ["vps_backend", ['"xen"', '"qemu"', "null"]],
  ["target_hostname", ['"ghost"', '"-bad"', '"a::b::c"', '""']],
  ["required_memory_bytes", ['"12Q"', "-5", "1024", "1.5"]],
  ["container_name", ['"NULL"', '"../x"', '"a b"']],
  ["registry_image", ['"a b"', '"-x"', '""']],
  ["additional_mounts", ['["relative:/x"]', '"/a:/b"', "[1]"]],
  ["required_gpus", ["[-1]", '"0"', "[1.5]"]],
  ["name", [text("x".repeat(101)), '"two\\nlines"', "{}"]],
];

const HEARTBEAT_KEYS = [
  "running_tasks",
  "killed_tasks",
  "cpu_percent",
  "memory_percent",
  "memory_used_bytes",
  "memory_total_bytes",
  "current_avg_temp",
  "current_max_temp",
  "gpu_info",
  "vm_capable",
  "vfio_gpus",
  "runner_version",
];

const HEARTBEAT_BREAKERS: ReadonlyArray<[string, string[]]> = [
  ["running_tasks", ['["abc"]', "[-1]", "[1.5]", '"x"', "[null]", '["123456789012345678901"]', "[1e400]"]],
  ["killed_tasks", ['[{"task_id":"x","reason":"r"}]', "[{}]", '"x"']],
  ["cpu_percent", ["1e308", "-1", "101", '"50"', "true", "1e400"]],
  ["memory_percent", ["1e308", "-0.5", "100.5", '"50"']],
  ["memory_used_bytes", ["1e17", "-1", "1.5", '"1G"', "1e400"]],
  ["memory_total_bytes", ["1e17", "-1", "1.5", "9007199254740993"]],
  ["current_avg_temp", ["1e400", '"40"']],
  ["gpu_info", ["[{}]", '[{"gpu_id":-1,"name":"g"}]', '"x"', '[{"gpu_id":0}]']],
  ["vfio_gpus", [nested(200), `[${nested(3)}]`, '[{"a":{"b":1}}]', "[1]", '[{"peers":[[1]]}]']],
  ["vm_capable", ['"yes"', "1"]],
  ["runner_version", [text("x".repeat(101)), "1"]],
];

const REGISTER_KEYS = [
  "hostname",
  "url",
  "total_cores",
  "total_ram_bytes",
  "numa_topology",
  "gpu_info",
  "runner_version",
];

const REGISTER_BREAKERS: ReadonlyArray<[string, string[]]> = [
  ["hostname", ['""', '"-x"', '"a b"', '"../etc"', text("x".repeat(254)), '"n\\u0000"', "1", "null"]],
  ["url", ['"javascript:alert(1)"', '"file:///etc/passwd"', '"ftp://x"', '"not a url"', '""', "1"]],
  ["total_cores", ["0", "-1", "1.5", "1e308", '"4"', "65537", "null", "1e400"]],
  ["total_ram_bytes", ["-1", "1e17", "1.5", '"8G"']],
  ["numa_topology", ['{"x":{"cores":[]}}', '{"0":{"cores":[-1]}}', '{"0":{"cores":"0-3"}}', "[]"]],
  ["gpu_info", ["[{}]", '[{"gpu_id":-1,"name":"g"}]', '"x"']],
  ["runner_version", [text("x".repeat(101)), "5"]],
];

const CONTENT_TYPES: ReadonlyArray<string | null> = [
  "application/json",
  "application/json",
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  null,
];

/** One random request that must be rejected, or for /api/update ignored. */
function randomRequest(random: Random): RequestSpec {
  const contentType = random.pick(CONTENT_TYPES);
  const garbage = random.next() < 0.1;
  const breaking = (breakers: ReadonlyArray<[string, string[]]>): [string, string] => {
    const [field, values] = random.pick(breakers);
    return [field, random.pick(values)];
  };

  switch (random.int(5)) {
    case 0: {
      const body = garbage
        ? garbageBody(random)
        : objectBody(random, { command: '"echo fuzz"' }, SUBMIT_KEYS, breaking(SUBMIT_BREAKERS));
      return { method: "POST", path: "/api/submit", body, contentType };
    }
    case 1: {
      // The base lists the running task, so the node's task reconciliation would see nothing missing.
      const base = { running_tasks: `["${runningTaskId}"]` };
      const body = garbage
        ? garbageBody(random)
        : objectBody(random, base, HEARTBEAT_KEYS, breaking(HEARTBEAT_BREAKERS));
      const hostname = random.pick([NODE, NODE, NODE, "ghost", "..%2F..%2Fetc", "%E2%9C%93", "x".repeat(254)]);
      const token = random.pick<TokenChoice>(["cluster", "cluster", "cluster", "none", "wrong"]);
      return { method: "PUT", path: `/api/heartbeat/${hostname}`, body, contentType, token };
    }
    case 2: {
      const base = { hostname: '"fuzz-new"', url: '"http://127.0.0.1:1"', total_cores: "2" };
      const body = garbage ? garbageBody(random) : objectBody(random, base, REGISTER_KEYS, breaking(REGISTER_BREAKERS));
      const token = random.pick<TokenChoice>(["cluster", "cluster", "cluster", "none", "wrong"]);
      return { method: "POST", path: "/api/register", body, contentType, token };
    }
    case 3: {
      const body = garbage ? garbageBody(random) : objectBody(random, {}, VPS_KEYS, breaking(VPS_BREAKERS));
      return { method: "POST", path: "/api/vps/create", body, contentType };
    }
    default: {
      // Reports that can never apply: any status for an unknown or queued task, and for the running task
      // only statuses that it cannot move to.
      const target = random.pick(["running", "pending", "unknown"] as const);
      let taskId = random.pick(['"1"', '"99999999999999999999"', "0"]);
      let status = random.pick(['"completed"', '"failed"', '"killed"', '"running"', '"lost"', '"pending"']);
      if (target === "running") {
        taskId = `"${runningTaskId}"`;
        status = random.pick(['"running"', '"pending"', '"assigning"', '"pending_approval"', '"rejected"']);
      } else if (target === "pending") {
        taskId = `"${pendingTaskId}"`;
      }
      const updateKeys = ["task_id", "status", "exit_code", "message", "started_at", "completed_at", "ssh_port"];
      const body = garbage
        ? garbageBody(random)
        : objectBody(random, { task_id: taskId }, updateKeys, ["status", status]);
      const token = random.pick<TokenChoice>(["cluster", "cluster", "cluster", "none", "wrong"]);
      return { method: "POST", path: "/api/update", body, contentType, token };
    }
  }
}

interface TableCase extends RequestSpec {
  expect: number;
  /** What the `detail` of an error, or the `message` of an ignored update, must match. */
  detail?: RegExp;
}

/** Hand-picked hostile requests with the status each must get. */
function hostileTable(): TableCase[] {
  const ok = (body: object): string => JSON.stringify(body);
  const big = ok({ command: "x".repeat(9 * 1024 * 1024) });
  const runner = { token: "cluster" as const };

  return [
    { method: "GET", path: "/api/status/-1", expect: 400 },
    { method: "GET", path: "/api/status/123456789012345678901", expect: 400 },
    { method: "GET", path: "/api/status/99999999999999999999", expect: 404 },
    { method: "GET", path: "/api/status/9223372036854775808", expect: 404 },
    { method: "GET", path: "/api/status/00000000000000000001", expect: 404 },
    { method: "GET", path: "/api/status/1e3", expect: 400 },
    { method: "GET", path: "/api/status/..%2F..%2Fetc%2Fpasswd", expect: 400 },
    { method: "GET", path: "/api/status/%ZZ", expect: 400, detail: /^url: .*percent-encode/ },
    { method: "GET", path: "/api/status/%00", expect: 400 },
    {
      method: "GET",
      path: `/api/status/${"1".repeat(301)}`,
      expect: 414,
      detail: /^url: a path parameter .* too long/,
    },
    { method: "GET", path: "/api/tasks/1/stdout?lines=-1", expect: 400 },
    {
      method: "GET",
      path: "/api/tasks/1/stdout?lines=abc",
      expect: 400,
      detail: /^querystring lines: must be a whole number/,
    },
    { method: "GET", path: "/api/tasks/1/stdout?lines=1e9", expect: 400 },
    { method: "GET", path: "/api/tasks/1/stderr?lines=0", expect: 400 },
    { method: "GET", path: "/api/tasks/..%2F..%2Fetc/stdout", expect: 400 },
    { method: "GET", path: "/api/tasks/1/..%2F..%2Fetc%2Fpasswd", expect: 404 },
    { method: "GET", path: "/api/tasks?limit=1e9", expect: 400 },
    { method: "GET", path: "/api/tasks?limit=abc", expect: 400, detail: /^querystring limit: .* from 1 to 10000/ },
    { method: "GET", path: "/api/tasks?limit=0", expect: 400 },
    { method: "GET", path: "/api/tasks?offset=-1", expect: 400 },
    { method: "GET", path: "/api/tasks?offset=1e300", expect: 400 },
    { method: "GET", path: "/api/tasks?status=bogus", expect: 400 },
    { method: "GET", path: "/api/tasks?status=pending&status=running", expect: 400 },
    { method: "GET", path: `/api/tasks?node=${"x".repeat(300)}`, expect: 400 },
    { method: "GET", path: "/api/tasks?__proto__=1&constructor=2&limit[]=1", expect: 200 },
    { method: "GET", path: "/api/health?hostname=..%2F", expect: 404 },
    { method: "GET", path: "/api/health?hostname=a&hostname=b", expect: 400 },
    { method: "HEAD", path: "/api/nodes", expect: 200 },
    { method: "OPTIONS", path: "/api/nodes", expect: 404 },
    { method: "PATCH", path: "/api/submit", body: "{}", expect: 404 },
    { method: "DELETE", path: "/api/status/1", expect: 404 },
    { method: "GET", path: "/api/submit", expect: 404 },
    { method: "GET", path: "/api/docker/container/..%2F..%2Fetc%2Fpasswd", expect: 400 },
    { method: "GET", path: "/api/docker/container/%00", expect: 400 },
    { method: "GET", path: "/api/docker/container/absent-env", expect: 404 },
    { method: "DELETE", path: "/api/docker/container/..", expect: 400 },
    {
      method: "GET",
      path: `/api/fs/${runningTaskId}/read?path=%2Fproc%2Fself%2Fenviron`,
      expect: 400,
      detail: /^path: .* is under \/proc/,
    },
    {
      method: "GET",
      path: `/api/fs/${runningTaskId}/list?path=%2Ftmp%2F..%2F..%2Fsys`,
      expect: 400,
      detail: /resolves to "\/sys"/,
    },
    {
      method: "GET",
      path: `/api/fs/${runningTaskId}/stat?path=etc%2Fpasswd`,
      expect: 400,
      detail: /not an absolute path/,
    },
    { method: "GET", path: `/api/fs/${runningTaskId}/stat?path=%2Fa%00b`, expect: 400, detail: /NUL/ },
    { method: "GET", path: `/api/fs/${runningTaskId}/stat`, expect: 400, detail: /path/ },
    { method: "GET", path: `/api/fs/${runningTaskId}/read?path=%2Fa&limit=1e9`, expect: 400, detail: /limit/ },
    { method: "GET", path: `/api/fs/${runningTaskId}/read?path=%2Fa&encoding=latin1`, expect: 400 },
    { method: "GET", path: `/api/fs/${runningTaskId}/list?path=%2F&show_hidden=maybe`, expect: 400 },
    { method: "DELETE", path: `/api/fs/${runningTaskId}/delete?path=%2Fdev`, expect: 400, detail: /\/dev/ },
    { method: "DELETE", path: `/api/fs/${runningTaskId}/delete?path=%2Fa&recursive=yes`, expect: 400 },
    {
      method: "POST",
      path: `/api/fs/${runningTaskId}/write`,
      body: ok({ path: "/dev/sda", content: "x" }),
      expect: 400,
      detail: /^path: /,
    },
    {
      method: "POST",
      path: `/api/fs/${runningTaskId}/write`,
      body: ok({ path: "/a", content: 1 }),
      expect: 400,
      detail: /content/,
    },
    {
      method: "POST",
      path: `/api/fs/${runningTaskId}/rename`,
      body: ok({ source: "/a", destination: "/sys/x" }),
      expect: 400,
      detail: /^destination: /,
    },
    { method: "POST", path: `/api/fs/${runningTaskId}/mkdir`, body: ok({ path: "relative" }), expect: 400 },
    { method: "POST", path: `/api/fs/${runningTaskId}/mkdir`, body: ok({ path: "/a", parents: "yes" }), expect: 400 },
    { method: "GET", path: `/api/fs/${pendingTaskId}/stat?path=%2Fa`, expect: 409 },
    { method: "GET", path: "/api/fs/1/stat?path=%2Fa", expect: 404 },
    { method: "GET", path: "/api/fs/..%2F..%2Fetc/stat?path=%2Fa", expect: 400 },
    { method: "GET", path: "/api/fs/container/..%2F..%2Fetc/stat?path=%2Fa", expect: 400, detail: /container_name/ },
    { method: "POST", path: "/api/fs/container/a%20b/write", body: ok({ path: "/a", content: "" }), expect: 400 },
    { method: "POST", path: "/api/docker/create_tar/..%2Fetc", expect: 400, detail: /env_name/ },
    { method: "POST", path: "/api/docker/create_tar/a..b", expect: 400, detail: /env_name/ },
    { method: "POST", path: "/api/docker/host/start/%20", expect: 400 },
    { method: "POST", path: "/api/docker/host/migrate/-x", expect: 400 },
    {
      method: "POST",
      path: "/api/docker/host/create",
      body: JSON.stringify({ image_name: "busybox", container_name: "../x" }),
      expect: 400,
      detail: /container_name/,
    },
    {
      method: "POST",
      path: "/api/docker/host/create",
      body: JSON.stringify({ image_name: "a b", container_name: "ok" }),
      expect: 400,
      detail: /image_name/,
    },
    { method: "POST", path: "/api/submit", body: "hello", contentType: "text/plain", expect: 400 },
    {
      method: "POST",
      path: "/api/submit",
      body: "command=x",
      contentType: "application/x-www-form-urlencoded",
      expect: 415,
      detail: /^body: unsupported Content-Type .*'Content-Type: application\/json'/,
    },
    { method: "POST", path: "/api/submit", body: "", expect: 400, detail: /^body: empty/ },
    { method: "POST", path: "/api/submit", expect: 400 },
    { method: "POST", path: "/api/submit", body: "{}", expect: 400 },
    { method: "POST", path: "/api/submit", body: "[]", expect: 400 },
    { method: "POST", path: "/api/submit", body: "null", expect: 400 },
    { method: "POST", path: "/api/submit", body: "{", expect: 400 },
    {
      method: "POST",
      path: "/api/submit",
      body: '{"command":"x","__proto__":{"polluted":1}}',
      expect: 400,
      detail: /__proto__/,
    },
    { method: "POST", path: "/api/submit", body: '{"command":"x","constructor":{"prototype":{"a":1}}}', expect: 400 },
    { method: "POST", path: "/api/submit", body: '{"command":"x","env_vars":{"__proto__":"x"}}', expect: 400 },
    { method: "POST", path: "/api/submit", body: `{"command":${nested(100_000)}}`, expect: 400 },
    {
      method: "POST",
      path: "/api/submit",
      body: ok({ command: "x", arguments: Array(100_000).fill("a") }),
      expect: 400,
    },
    {
      method: "POST",
      path: "/api/submit",
      body: ok({ command: "x", required_gpus: [[1e308]] }),
      expect: 400,
      detail: /<=1023/,
    },
    { method: "POST", path: "/api/submit", body: big, expect: 413, detail: /^body: larger than the limit of 8388608/ },
    { method: "POST", path: "/api/kill/-1", expect: 400 },
    { method: "POST", path: "/api/kill/1", expect: 404 },
    { method: "POST", path: "/api/kill/99999999999999999999", expect: 404 },
    { method: "POST", path: "/api/command/1/stop", expect: 400 },
    { method: "POST", path: "/api/command/1/__proto__", expect: 400 },
    { method: "POST", path: "/api/command/1/pause", expect: 404 },
    { method: "POST", path: `/api/command/${pendingTaskId}/pause`, expect: 409 },
    { method: "POST", path: `/api/command/${runningTaskId}/resume`, expect: 409 },
    { method: "POST", path: "/api/register", body: "{}", expect: 401, detail: /^missing cluster token/ },
    { method: "POST", path: "/api/register", body: "{}", token: "wrong", expect: 401 },
    { method: "POST", path: "/api/register", body: big, expect: 401 },
    { method: "POST", path: "/api/register", body: big, ...runner, expect: 413 },
    { method: "POST", path: "/api/register", body: "{}", ...runner, expect: 400 },
    {
      method: "POST",
      path: "/api/register",
      body: ok({ hostname: "evil", url: "javascript:alert(1)", total_cores: 1 }),
      ...runner,
      expect: 400,
      detail: /^url: must be the runner's http:\/\/ or https:\/\/ URL/,
    },
    { method: "PUT", path: `/api/heartbeat/${NODE}`, body: "{}", expect: 401 },
    { method: "PUT", path: "/api/heartbeat/ghost", body: ok({ running_tasks: [] }), ...runner, expect: 404 },
    { method: "PUT", path: `/api/heartbeat/${"x".repeat(254)}`, body: "{}", ...runner, expect: 400 },
    { method: "PUT", path: `/api/heartbeat/${"x".repeat(301)}`, body: "{}", ...runner, expect: 414 },
    {
      method: "PUT",
      path: `/api/heartbeat/${NODE}`,
      body: ok({ running_tasks: [runningTaskId], cpu_percent: 1e308 }),
      ...runner,
      expect: 400,
      detail: /^cpu_percent: must be a percentage from 0 to 100/,
    },
    {
      method: "PUT",
      path: `/api/heartbeat/${NODE}`,
      body: ok({ running_tasks: [runningTaskId], memory_used_bytes: 1e17 }),
      ...runner,
      expect: 400,
      detail: /^memory_used_bytes: must be at most 9007199254740991 bytes/,
    },
    {
      method: "PUT",
      path: `/api/heartbeat/${NODE}`,
      body: `{"running_tasks":["${runningTaskId}"],"vfio_gpus":[${nested(100_000)}]}`,
      ...runner,
      expect: 400,
      detail: /^vfio_gpus\.0: /,
    },
    { method: "POST", path: "/api/update", body: "{}", expect: 401 },
    { method: "POST", path: "/api/update", body: "{}", ...runner, expect: 400 },
    { method: "POST", path: "/api/update", body: ok({ task_id: "1", status: "bogus" }), ...runner, expect: 400 },
    {
      method: "POST",
      path: "/api/update",
      body: ok({ task_id: runningTaskId, status: "running", ssh_port: -5 }),
      ...runner,
      expect: 400,
      detail: /^ssh_port: /,
    },
    { method: "POST", path: "/api/update", body: ok({ task_id: "1", status: "running" }), ...runner, expect: 200 },
    {
      method: "POST",
      path: "/api/update",
      body: ok({ task_id: runningTaskId, status: "pending" }),
      ...runner,
      expect: 200,
      detail: /runners cannot report pending; ignored/,
    },
    {
      method: "POST",
      path: "/api/update",
      body: ok({ task_id: pendingTaskId, status: "failed", exit_code: 1 }),
      ...runner,
      expect: 200,
      detail: /is pending; failed ignored/,
    },
  ];
}

describe("host API under hostile input", () => {
  let baseline: StateSnapshot;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "kohakuriver-hostile-input-"));
    config = resolveHostConfig({
      HOST_BIND_IP: "127.0.0.1",
      HOST_PORT: 0,
      HOST_SSH_PROXY_PORT: 0,
      DEFAULT_CONTAINER_BOOTSTRAP: false,
      DB_FILE: join(dataDir, "kohakuriver.db"),
      SHARED_DIR: join(dataDir, "shared"),
      // No heartbeats arrive during the test, and the node must stay online throughout.
      HEARTBEAT_INTERVAL_SECONDS: 600,
    });
    host = await startHost({ config, logger: createLogger({ name: "host", level: "silent" }) });
    fakeRunner = await startFakeRunner();

    const runnerUrl = `http://127.0.0.1:${(fakeRunner.address() as AddressInfo).port}`;
    const registration = { hostname: NODE, url: runnerUrl, total_cores: 4, total_ram_bytes: 8e9 };
    const registered = await send({
      method: "POST",
      path: "/api/register",
      body: JSON.stringify(registration),
      token: "cluster",
    });
    assert.equal(registered.status, 200, registered.text);
    const beat = await send({ method: "PUT", path: `/api/heartbeat/${NODE}`, body: "{}", token: "cluster" });
    assert.equal(beat.status, 200, beat.text);

    runningTaskId = await submit({ command: "sleep 600", required_cores: 1 });
    await waitFor(async () => (await host.store.getTask(runningTaskId))?.dispatch_confirmed === true, "dispatch");
    const started = await send({
      method: "POST",
      path: "/api/update",
      body: JSON.stringify({ task_id: runningTaskId, status: "running" }),
      token: "cluster",
    });
    assert.deepEqual(started.body, { message: `task ${runningTaskId} is now running`, applied: true });
    // Four cores do not fit beside the running task, so this one waits in the queue.
    pendingTaskId = await submit({ command: "echo queued", required_cores: 4 });

    baseline = await snapshotState();
  });

  after(async () => {
    await host.close();
    fakeRunner.closeAllConnections();
    await new Promise((resolve) => fakeRunner.close(resolve));
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("hostile table gets clean 4xx", async () => {
    for (const entry of hostileTable()) {
      const response = await send(entry);
      const context = describeRequest(entry, response);
      assert.equal(response.status, entry.expect, context);
      if (response.status >= 400) assertErrorBody(response, context);
      if (entry.path === "/api/update" && response.status === 200) {
        assert.equal((response.body as { applied?: unknown }).applied, false, context);
      }
      if (entry.detail !== undefined) {
        const { detail, message } = response.body as { detail?: string; message?: string };
        assert.match(detail ?? message ?? "", entry.detail, context);
      }
    }

    assert.deepEqual(await snapshotState(), baseline);
    await assertHostAnswers();
  });

  it("random malformed bodies get 4xx", async () => {
    const random = createRandom(SEED);
    for (let index = 0; index < RANDOM_REQUESTS; index += 1) {
      const spec = randomRequest(random);
      const response = await send(spec);
      const context = `seed ${SEED}, request ${index}: ${describeRequest(spec, response)}`;

      if (spec.path === "/api/update" && response.status === 200) {
        assert.equal((response.body as { applied?: unknown }).applied, false, `update applied: ${context}`);
        continue;
      }
      assert.ok(response.status >= 400, `expected a 4xx: ${context}`);
      assert.ok(response.status < 500, `expected a 4xx: ${context}`);
      assertErrorBody(response, context);
    }

    assert.deepEqual(await snapshotState(), baseline, `state changed (seed ${SEED})`);
    await assertHostAnswers();
  });

  it("kill and pause race cleanly", async () => {
    const killedQueued = await send({ method: "POST", path: `/api/kill/${pendingTaskId}` });
    assert.equal(killedQueued.status, 202, killedQueued.text);

    const control = (path: string): RequestSpec => ({ method: "POST", path });
    const report = (status: string): RequestSpec => ({
      method: "POST",
      path: "/api/update",
      body: JSON.stringify({ task_id: runningTaskId, status, exit_code: 0 }),
      token: "cluster",
    });
    const racing = [
      control(`/api/kill/${runningTaskId}`),
      control(`/api/command/${runningTaskId}/pause`),
      control(`/api/command/${runningTaskId}/resume`),
      report("completed"),
      control(`/api/command/${runningTaskId}/pause`),
      control(`/api/kill/${runningTaskId}`),
    ];
    const responses = await Promise.all(racing.map(send));
    responses.forEach((response, index) => {
      const context = describeRequest(racing[index] as RequestSpec, response);
      assert.ok(response.status < 500, context);
      if (response.status >= 400) assertErrorBody(response, context);
    });

    const task = await host.store.getTask(runningTaskId);
    assert.ok(task?.status === "killed" || task?.status === "completed", `final status ${task?.status}`);
    const nodes = (await send({ method: "GET", path: "/api/nodes" })).body as Array<Record<string, unknown>>;
    assert.equal(nodes[0]?.cores_in_use, 0);
    assert.equal(nodes[0]?.memory_in_use_bytes, 0);

    const again = await send(control(`/api/kill/${runningTaskId}`));
    assert.equal(again.status, 409, again.text);
  });

  it("host restarts after the fuzzing", async () => {
    const taskCount = await host.store.countTasks();
    await host.close();
    host = await startHost({ config, logger: createLogger({ name: "host", level: "silent" }) });

    assert.equal(await host.store.countTasks(), taskCount);
    assert.deepEqual(
      (await host.store.listNodes()).map((node) => node.hostname),
      [NODE],
    );
    await assertHostAnswers();
  });
});
