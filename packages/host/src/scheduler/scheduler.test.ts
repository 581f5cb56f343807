import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";

import { createStore } from "../store/index.js";
import { makeTaskRecord } from "../store/task-record.fixture.js";
import type { Store, TaskRecord } from "../store/types.js";
import { ResourceLedger } from "./ledger.js";
import { Scheduler } from "./scheduler.js";
import { SnowflakeGenerator } from "./snowflake.js";

const logger = createLogger({ name: "test", level: "silent" });
const ids = new SnowflakeGenerator();

function pendingTask(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return makeTaskRecord({ task_id: ids.next(), command: "true", container_name: "base", ...overrides });
}

describe("Scheduler", () => {
  let store: Store;
  let ledger: ResourceLedger;
  let dispatched: string[];
  let scheduler: Scheduler;

  beforeEach(async () => {
    store = await createStore({ dbFile: ":memory:" });
    await store.migrate();
    ledger = new ResourceLedger();
    ledger.upsertNode({
      hostname: "n1",
      url: "http://n1",
      totalCores: 2,
      memoryBytes: null,
      gpuIds: [0],
      numaTopology: null,
    });
    ledger.setSchedulable("n1", true);
    dispatched = [];
    scheduler = new Scheduler(store, ledger, { enqueue: (taskId) => dispatched.push(taskId) }, logger);
  });
  afterEach(async () => {
    scheduler.stop();
    await store.close();
  });

  async function submit(...tasks: TaskRecord[]): Promise<void> {
    await store.insertTasks(tasks);
    scheduler.enqueue(tasks);
    await scheduler.runPasses();
  }

  it("stores placements as assigning and hands them to the dispatcher", async () => {
    const task = pendingTask();
    await submit(task);
    const stored = await store.getTask(task.task_id);
    assert.equal(stored?.status, "assigning");
    assert.equal(stored?.assigned_node, "n1");
    assert.deepEqual(dispatched, [task.task_id]);
    assert.equal(scheduler.queueLength, 0);
  });

  it("queues what does not fit, in order", async () => {
    const tasks = [
      pendingTask({ required_cores: 2 }),
      pendingTask({ required_cores: 2 }),
      pendingTask({ required_cores: 2 }),
    ];
    await submit(...tasks);
    assert.deepEqual(dispatched, [tasks[0]?.task_id]);
    assert.equal(scheduler.positionOf(tasks[1]!.task_id), 1);
    assert.equal(scheduler.positionOf(tasks[2]!.task_id), 2);
    assert.equal((await store.getTask(tasks[1]!.task_id))?.status, "pending");

    ledger.release(tasks[0]!.task_id);
    await scheduler.runPasses();
    assert.deepEqual(dispatched, [tasks[0]?.task_id, tasks[1]?.task_id]);
  });

  it("orders a task put back into the queue by its id", async () => {
    const older = pendingTask({ required_cores: 2 });
    const younger = pendingTask({ required_cores: 2 });
    ledger.setSchedulable("n1", false);
    await submit(younger);
    await submit(older);
    assert.equal(scheduler.positionOf(older.task_id), 1);
  });

  it("drops a removed task from the queue", async () => {
    const first = pendingTask({ required_cores: 2 });
    const removed = pendingTask({ required_cores: 2 });
    await submit(first, removed);
    scheduler.remove(removed.task_id);
    ledger.release(first.task_id);
    await scheduler.runPasses();
    assert.deepEqual(dispatched, [first.task_id]);
    assert.equal(scheduler.queueLength, 0);
  });

  it("gives back a placement whose task left pending before it was stored", async () => {
    const task = pendingTask({ required_cores: 2 });
    ledger.setSchedulable("n1", false);
    await submit(task);
    await store.transitionTask({ taskId: task.task_id, to: "killed", from: ["pending"] });
    ledger.setSchedulable("n1", true);
    await scheduler.runPasses();
    assert.deepEqual(dispatched, []);
    assert.equal(ledger.getNode("n1")?.usedCores, 0);
    assert.equal(scheduler.queueLength, 0);
  });

  it("records the GPUs chosen for a GPU count", async () => {
    const task = pendingTask({ required_gpu_count: 1 });
    await submit(task);
    assert.deepEqual((await store.getTask(task.task_id))?.required_gpus, [0]);
  });

  it("does not place on a node that is not schedulable", async () => {
    ledger.setSchedulable("n1", false);
    const task = pendingTask();
    await submit(task);
    assert.deepEqual(dispatched, []);
    ledger.setSchedulable("n1", true);
    await scheduler.runPasses();
    assert.deepEqual(dispatched, [task.task_id]);
  });
});
