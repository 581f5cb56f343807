/**
 * Store conformance: one suite that every backend must pass, run against SQLite (a temporary file) and
 * against PostgreSQL (a throwaway server), plus checks that only SQLite files need.
 *
 * The PostgreSQL suite is skipped when no PostgreSQL binaries are installed, except under CI=true, where
 * it fails instead so that the dialect cannot go untested unnoticed.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { ConflictError, InvalidInputError, type GpuInfo } from "@kohakuriver/api";

import { createStore, type NodeRecord, type Store, type TaskRecord } from "./index.js";
import { makeTaskRecord, newTaskId } from "./task-record.fixture.js";
import {
  findPostgresBinaries,
  startPostgresTestServer,
  type PostgresTestServer,
} from "./postgres-test-server.fixture.js";

interface StoreBackend {
  /** Opens a fresh, empty store (not migrated yet). */
  open(): Promise<Store>;
}

const GPU: GpuInfo = {
  gpu_id: 0,
  name: "NVIDIA H200",
  driver_version: "570.86.15",
  pci_bus_id: "00000000:19:00.0",
  gpu_utilization: 12,
  graphics_clock_mhz: 1980,
  mem_utilization: 3,
  mem_clock_mhz: 3201,
  memory_total_mib: 143771,
  memory_used_mib: 512,
  memory_free_mib: 143259,
  temperature: 35,
  fan_speed: -1,
  power_usage_mw: 75000,
  power_limit_mw: 700000,
};

function makeNode(overrides: Partial<Omit<NodeRecord, "registered_at">> = {}): Omit<NodeRecord, "registered_at"> {
  return {
    hostname: "node1",
    url: "http://10.0.0.1:8001",
    total_cores: 64,
    memory_total_bytes: 549_755_813_888,
    status: "online",
    last_heartbeat: "2026-01-31T12:00:00.000Z",
    cpu_percent: 12.5,
    memory_percent: 40.25,
    memory_used_bytes: 219_902_325_555,
    current_avg_temp: 41.5,
    current_max_temp: 55,
    numa_topology: {
      "0": { cores: [0, 1, 2, 3], memory_bytes: 274_877_906_944 },
      "1": { cores: [4, 5, 6, 7], memory_bytes: null },
    },
    gpu_info: [GPU],
    vm_capable: true,
    vfio_gpus: [{ pci: "0000:19:00.0" }],
    runner_version: "0.1.0",
    ...overrides,
  };
}

function taskIds(tasks: readonly TaskRecord[]): string[] {
  return tasks.map((task) => task.task_id);
}

function describeStoreConformance(name: string, backend: StoreBackend): void {
  describe(`${name} store`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await backend.open();
      await store.migrate();
    });

    afterEach(async () => {
      await store.close();
    });

    it("migrate twice is harmless", async () => {
      await store.migrate();
      const task = makeTaskRecord();
      await store.insertTasks([task]);
      await store.migrate();
      assert.deepEqual(await store.getTask(task.task_id), task);
    });

    it("task round trip keeps every field", async () => {
      const full = makeTaskRecord({
        task_id: "9223372036854775000",
        task_type: "vps",
        batch_id: "7263012345678901248",
        name: "dev box ü",
        command: "python",
        arguments: ["-c", "print('a b')", "ünïcode"],
        shell: true,
        env_vars: { CUDA_VISIBLE_DEVICES: "0,1", EMPTY: "" },
        required_cores: 8,
        required_gpus: [0, 3],
        required_gpu_count: 2,
        required_memory_bytes: 68_719_476_736,
        target_node: "node1",
        target_numa_node_id: 1,
        owner_id: 42,
        approval_status: "approved",
        approved_by_id: 7,
        approved_at: "2026-01-31T12:00:01.000Z",
        rejection_reason: "none",
        status: "running",
        assigned_node: "node1",
        assignment_suspicion_count: 2,
        container_name: "kohakuriver-base",
        registry_image: "ubuntu:24.04",
        docker_image_name: "kohakuriver/kohakuriver-base:base",
        docker_privileged: true,
        docker_mount_dirs: ["/data:/data", "/models:/models:ro"],
        ssh_port: 2222,
        vps_backend: "qemu",
        vm_image: "ubuntu-24.04",
        vm_disk_size: "100G",
        vm_ip: "10.200.0.5",
        exit_code: 137,
        error_message: "killed: out of memory",
        started_at: "2026-01-31T12:00:02.500Z",
        completed_at: "2026-01-31T13:00:00.000Z",
        dispatch_confirmed: true,
      });
      const empty = makeTaskRecord({ arguments: [], docker_mount_dirs: [], stdout_path: "", stderr_path: "" });

      await store.insertTasks([full, empty]);

      assert.deepEqual(await store.getTask(full.task_id), full);
      assert.deepEqual(await store.getTask(empty.task_id), empty);
    });

    it("big ids round trip exactly", async () => {
      const ids = ["9223372036854775000", "7263012345678901248", "9223372036854775807", "9007199254740993"];
      await store.insertTasks(ids.map((id) => makeTaskRecord({ task_id: id, batch_id: "9223372036854775001" })));

      for (const id of ids) {
        const task = await store.getTask(id);
        assert.equal(task?.task_id, id);
        assert.equal(task?.batch_id, "9223372036854775001");
      }
      assert.deepEqual(
        taskIds(await store.listTasks({ batchId: "9223372036854775001", order: "oldest" })).sort(),
        [...ids].sort(),
      );
      assert.equal(await store.getTask("9223372036854775808"), undefined, "above 2^63 - 1");
      assert.equal(await store.getTask("not-a-number"), undefined);
      assert.equal((await store.getTask("0009007199254740993"))?.task_id, "9007199254740993", "leading zeros");
    });

    it("timestamps are normalised to UTC", async () => {
      const task = makeTaskRecord({ submitted_at: "2026-01-31T13:00:00+01:00", started_at: "2026-01-31T12:00:00Z" });
      await store.insertTasks([task]);

      const stored = await store.getTask(task.task_id);
      assert.equal(stored?.submitted_at, "2026-01-31T12:00:00.000Z");
      assert.equal(stored?.started_at, "2026-01-31T12:00:00.000Z");
      await assert.rejects(
        store.insertTasks([makeTaskRecord({ submitted_at: "2026-01-31T12:00:00" })]),
        InvalidInputError,
      );
      await assert.rejects(store.insertTasks([makeTaskRecord({ submitted_at: "yesterday" })]), InvalidInputError);
      await assert.rejects(store.insertTasks([makeTaskRecord({ task_id: "12abc" })]), InvalidInputError);
    });

    it("insertTasks is all or nothing", async () => {
      const existing = makeTaskRecord();
      await store.insertTasks([existing]);

      const fresh = makeTaskRecord();
      await assert.rejects(
        store.insertTasks([fresh, makeTaskRecord({ task_id: existing.task_id })]),
        (error: unknown) => {
          assert.ok(error instanceof ConflictError);
          assert.match(error.message, new RegExp(existing.task_id));
          return true;
        },
      );
      assert.equal(await store.getTask(fresh.task_id), undefined);

      const repeated = makeTaskRecord();
      await assert.rejects(store.insertTasks([repeated, { ...repeated }]), ConflictError);
      assert.equal(await store.getTask(repeated.task_id), undefined);

      // More rows than one INSERT statement takes, so the batch spans several statements in a transaction.
      const large = Array.from({ length: 2000 }, () => makeTaskRecord());
      await assert.rejects(store.insertTasks([...large, makeTaskRecord({ task_id: existing.task_id })]), ConflictError);
      assert.equal(await store.countTasks(), 1);

      await store.insertTasks(large);
      assert.equal(await store.countTasks(), 2001);
    });

    it("listTasks filters, orders and pages", async () => {
      const a = makeTaskRecord({ submitted_at: "2026-01-31T10:00:00.000Z", status: "running", assigned_node: "node1" });
      const b = makeTaskRecord({ submitted_at: "2026-01-31T11:00:00.000Z", status: "pending", task_type: "vps" });
      const c = makeTaskRecord({
        submitted_at: "2026-01-31T11:00:00.000Z",
        status: "completed",
        assigned_node: "node2",
      });
      const d = makeTaskRecord({ submitted_at: "2026-01-31T09:00:00.000Z", status: "pending", batch_id: a.task_id });
      // Offsets make text order differ from time order unless timestamps are normalised.
      const e = makeTaskRecord({
        submitted_at: "2026-01-31T13:30:00+03:00",
        status: "running",
        assigned_node: "node1",
      });
      await store.insertTasks([a, b, c, d, e]);

      assert.deepEqual(taskIds(await store.listTasks()), taskIds([c, b, e, a, d]));
      assert.deepEqual(taskIds(await store.listTasks({ order: "oldest" })), taskIds([d, a, e, b, c]));
      assert.deepEqual(taskIds(await store.listTasks({ statuses: ["pending"], order: "oldest" })), taskIds([d, b]));
      assert.deepEqual(taskIds(await store.listTasks({ statuses: ["running", "completed"] })), taskIds([c, e, a]));
      assert.deepEqual(await store.listTasks({ statuses: [] }), []);
      assert.deepEqual(taskIds(await store.listTasks({ node: "node1" })), taskIds([e, a]));
      assert.deepEqual(taskIds(await store.listTasks({ taskType: "vps" })), taskIds([b]));
      assert.deepEqual(taskIds(await store.listTasks({ batchId: a.task_id, order: "oldest" })), taskIds([d, a]));
      assert.deepEqual(await store.listTasks({ batchId: "x" }), []);
      assert.deepEqual(taskIds(await store.listTasks({ limit: 2 })), taskIds([c, b]));
      assert.deepEqual(taskIds(await store.listTasks({ limit: 2, offset: 2 })), taskIds([e, a]));
      assert.deepEqual(taskIds(await store.listTasks({ offset: 3 })), taskIds([a, d]));
      assert.deepEqual(await store.listTasks({ limit: 0 }), []);
      assert.deepEqual(
        taskIds(await store.listTasks({ statuses: ["pending", "running"], node: "node1", order: "oldest", limit: 1 })),
        taskIds([a]),
      );
      await assert.rejects(store.listTasks({ limit: -1 }), InvalidInputError);
      await assert.rejects(store.listTasks({ offset: 1.5 }), InvalidInputError);
    });

    it("countTasks applies filters", async () => {
      await store.insertTasks([
        makeTaskRecord({ status: "pending" }),
        makeTaskRecord({ status: "pending", task_type: "vps" }),
        makeTaskRecord({ status: "running", assigned_node: "node1" }),
      ]);

      assert.equal(await store.countTasks(), 3);
      assert.equal(await store.countTasks({ statuses: ["pending"] }), 2);
      assert.equal(await store.countTasks({ statuses: [] }), 0);
      assert.equal(await store.countTasks({ node: "node1" }), 1);
      assert.equal(await store.countTasks({ taskType: "vps", statuses: ["pending"] }), 1);
      assert.equal(await store.countTasks({ taskType: "vps", statuses: ["running"] }), 0);
    });

    it("transitionTask applies once", async () => {
      const task = makeTaskRecord();
      await store.insertTasks([task]);
      const transition = {
        taskId: task.task_id,
        from: ["pending"] as const,
        to: "assigning" as const,
        fields: { assigned_node: "node1", required_gpus: [1], started_at: "2026-01-31T12:00:05+00:00" },
      };

      assert.equal(await store.transitionTask(transition), true);
      assert.equal(await store.transitionTask(transition), false);

      const stored = await store.getTask(task.task_id);
      assert.equal(stored?.status, "assigning");
      assert.equal(stored?.assigned_node, "node1");
      assert.deepEqual(stored?.required_gpus, [1]);
      assert.equal(stored?.started_at, "2026-01-31T12:00:05.000Z");
      assert.equal(
        await store.transitionTask({ taskId: newTaskId(), from: ["pending"], to: "killed" }),
        false,
        "missing task",
      );
      assert.equal(await store.transitionTask({ taskId: task.task_id, from: [], to: "killed" }), false, "empty from");
      assert.equal(
        await store.transitionTask({ taskId: "bad", from: ["assigning"], to: "killed" }),
        false,
        "malformed id",
      );
    });

    it("concurrent transitions apply once", async () => {
      const task = makeTaskRecord();
      await store.insertTasks([task]);

      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          store.transitionTask({
            taskId: task.task_id,
            from: ["pending"],
            to: "assigning",
            fields: { assigned_node: `node${index}` },
          }),
        ),
      );

      assert.equal(results.filter((applied) => applied).length, 1);
      const winner = results.indexOf(true);
      assert.equal((await store.getTask(task.task_id))?.assigned_node, `node${winner}`);
    });

    it("transitionTasks applies a batch atomically", async () => {
      const [a, b, c] = [makeTaskRecord(), makeTaskRecord({ status: "running" }), makeTaskRecord()];
      await store.insertTasks([a, b, c]);

      const applied = await store.transitionTasks([
        { taskId: a.task_id, from: ["pending"], to: "assigning" },
        { taskId: b.task_id, from: ["pending"], to: "assigning" },
        { taskId: c.task_id, from: ["pending"], to: "killed", fields: { error_message: "killed by user" } },
      ]);
      assert.deepEqual(applied, [true, false, true]);
      assert.equal((await store.getTask(a.task_id))?.status, "assigning");
      assert.equal((await store.getTask(b.task_id))?.status, "running");
      assert.equal((await store.getTask(c.task_id))?.error_message, "killed by user");
      assert.deepEqual(await store.transitionTasks([]), []);

      // The second item fails after the first was applied inside the transaction; neither may persist.
      await assert.rejects(
        store.transitionTasks([
          { taskId: a.task_id, from: ["assigning"], to: "running" },
          { taskId: b.task_id, from: ["running"], to: "completed", fields: { completed_at: "not a time" } },
        ]),
        InvalidInputError,
      );
      assert.equal((await store.getTask(a.task_id))?.status, "assigning");
      assert.equal((await store.getTask(b.task_id))?.status, "running");
    });

    it("updateTask changes fields without a guard", async () => {
      const task = makeTaskRecord({ status: "running" });
      await store.insertTasks([task]);

      await store.updateTask(task.task_id, {
        exit_code: 0,
        dispatch_confirmed: true,
        completed_at: "2026-01-31T12:30:00.000Z",
        assignment_suspicion_count: 3,
        vm_ip: undefined,
      });
      await store.updateTask(task.task_id, {});
      await store.updateTask(newTaskId(), { exit_code: 1 });

      const stored = await store.getTask(task.task_id);
      assert.deepEqual(stored, {
        ...task,
        exit_code: 0,
        dispatch_confirmed: true,
        completed_at: "2026-01-31T12:30:00.000Z",
        assignment_suspicion_count: 3,
      });
      await assert.rejects(store.updateTask(task.task_id, { status: "killed" } as never), TypeError);
      await assert.rejects(store.updateTask(task.task_id, { command: "rm" } as never), TypeError);
    });

    it("upsertNode reports creation and keeps registered_at", async () => {
      const node = makeNode();
      assert.deepEqual(await store.upsertNode(node), { created: true });
      const registered = await store.getNode("node1");
      assert.ok(registered !== undefined);
      assert.deepEqual({ ...registered, registered_at: "" }, { ...node, registered_at: "" });
      assert.match(registered.registered_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      await new Promise((resolve) => setTimeout(resolve, 5));
      const changed = makeNode({
        url: "http://10.0.0.9:8001",
        numa_topology: null,
        gpu_info: [],
        vm_capable: false,
        vfio_gpus: [],
      });
      assert.deepEqual(await store.upsertNode({ ...changed, registered_at: "2020-01-01T00:00:00.000Z" } as never), {
        created: false,
      });

      assert.deepEqual(await store.getNode("node1"), { ...changed, registered_at: registered.registered_at });
      assert.equal(await store.getNode("node2"), undefined);
    });

    it("updateNodes updates a batch", async () => {
      await store.upsertNode(makeNode({ hostname: "node2" }));
      await store.upsertNode(makeNode({ hostname: "node1" }));

      await store.updateNodes([
        {
          hostname: "node1",
          fields: { cpu_percent: 99.5, memory_used_bytes: 8_589_934_593, last_heartbeat: "2026-01-31T12:00:10Z" },
        },
        { hostname: "node2", fields: { status: "offline" } },
        { hostname: "missing", fields: { status: "offline" } },
        { hostname: "node2", fields: {} },
      ]);
      await store.updateNodes([]);

      const [node1, node2] = await store.listNodes();
      assert.equal(node1?.hostname, "node1");
      assert.equal(node1?.cpu_percent, 99.5);
      assert.equal(node1?.memory_used_bytes, 8_589_934_593);
      assert.equal(node1?.last_heartbeat, "2026-01-31T12:00:10.000Z");
      assert.equal(node1?.status, "online");
      assert.equal(node2?.hostname, "node2");
      assert.equal(node2?.status, "offline");
      assert.equal(node2?.cpu_percent, 12.5);
      assert.equal(await store.getNode("missing"), undefined);
      await assert.rejects(
        store.updateNodes([{ hostname: "node1", fields: { status: "gone" as never } }]),
        InvalidInputError,
      );
    });
  });
}

describe("SQLite", () => {
  let directory: string;
  let files = 0;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kohakuriver-store-test-"));
  });

  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  describeStoreConformance("SQLite", {
    open: () => createStore({ dbFile: join(directory, `store-${(files += 1)}`, "kohakuriver.db") }),
  });

  it("SQLite data survives close and reopen", async () => {
    const dbFile = join(directory, "reopen", "kohakuriver.db");
    const task = makeTaskRecord({ task_id: "9223372036854775000" });
    const first = await createStore({ dbFile });
    await first.migrate();
    await first.insertTasks([task]);
    await first.upsertNode(makeNode());
    await first.close();

    const second = await createStore({ dbFile });
    await second.migrate();
    assert.deepEqual(await second.getTask(task.task_id), task);
    assert.equal((await second.getNode("node1"))?.url, "http://10.0.0.1:8001");
    await second.close();
  });

  it("SQLite commit survives SIGKILL", async () => {
    const dbFile = join(directory, "sigkill", "kohakuriver.db");
    const taskId = "9223372036854775123";
    const repositoryRoot = fileURLToPath(new URL("../../../../", import.meta.url));
    const storeModule = new URL("./index.ts", import.meta.url).href;
    const writer = `
      const [storeModule, dbFile, taskId] = process.argv.slice(1);
      const { createStore } = await import(storeModule);
      const store = await createStore({ dbFile });
      await store.migrate();
      await store.insertTasks([${JSON.stringify(makeTaskRecord({ task_id: taskId }))}]);
      await store.transitionTask({ taskId, from: ["pending"], to: "assigning" });
      process.stdout.write("committed\\n");
      setInterval(() => {}, 1000);
    `;

    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", writer, storeModule, dbFile, taskId],
      { cwd: repositoryRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("committed")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`writer exited with code ${code} before committing: ${stderr}`)));
    });
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");

    const store = await createStore({ dbFile });
    await store.migrate();
    assert.equal((await store.getTask(taskId))?.status, "assigning");
    await store.close();
  });

  it("SQLite in memory works", async () => {
    const store = await createStore({ dbFile: ":memory:" });
    await store.migrate();
    await store.insertTasks([makeTaskRecord()]);
    assert.equal(await store.countTasks(), 1);
    assert.equal(store.dialect, "sqlite");
    await store.close();
  });
});

describe("createStore", () => {
  it("rejects unsupported URL schemes", async () => {
    await assert.rejects(createStore({ databaseUrl: "mysql://user:secret@db/kohakuriver" }), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /mysql:/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  it("requires a database", async () => {
    await assert.rejects(createStore({}), /DB_FILE/);
  });
});

const postgresBinaries = await findPostgresBinaries();
const missingPostgres = "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin";

if (postgresBinaries === undefined && process.env.CI === "true") {
  it("PostgreSQL binaries are installed", () => {
    assert.fail(`${missingPostgres}; CI=true requires the PostgreSQL suite, so install Debian's postgresql package`);
  });
} else {
  describe("PostgreSQL", { skip: postgresBinaries === undefined ? missingPostgres : false }, () => {
    let server: PostgresTestServer | undefined;

    before(async () => {
      server = await startPostgresTestServer(postgresBinaries!);
    });

    after(async () => {
      await server?.stop();
    });

    describeStoreConformance("PostgreSQL", {
      open: async () => createStore({ databaseUrl: await server!.createDatabase() }),
    });

    it("PostgreSQL dialect is selected by URL", async () => {
      const url = await server!.createDatabase();
      const store = await createStore({ databaseUrl: url.replace(/^postgres:/, "postgresql:") });
      assert.equal(store.dialect, "postgres");
      await store.migrate();
      assert.equal(await store.countTasks(), 0);
      await store.close();
    });
  });
}
