/**
 * The runner's durable record of its tasks, in one JSON file replaced atomically.
 *
 * A task enters the file before the runner acknowledges its dispatch and leaves it only after the host
 * has acknowledged the task's final status, so a runner killed at any moment neither loses a task it
 * accepted nor loses a result it has not delivered.
 *
 * Changes apply to memory at once; the returned promise resolves when they are on disk. Writes are grouped:
 * changes made while a write is in progress go to disk together in the next one, so a burst of task starts
 * costs a few fsyncs instead of one each, and the event loop never blocks on the disk.
 */

import { readFileSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { dirname } from "node:path";

import type { ParsedRunnerVpsCreateRequest, ParsedTaskExecuteRequest, TaskStatusUpdate } from "@kohakuriver/api";

/**
 * Finished task ids remembered against late duplicate dispatches, at about 50 bytes each in the state
 * file. Such a duplicate arrives within seconds of the final report, so the newest ids are enough.
 */
const MAX_FINISHED_IDS = 20_000;

export interface TaskEntry {
  task_id: string;
  container_name: string;
  /** The dispatched request; null for a container adopted by its labels without a record. */
  request: ParsedTaskExecuteRequest | null;
  accepted_at: string;
  /** `accepted`: the container may not have been started yet; `started`: it was started once and is never started again. */
  phase: "accepted" | "started";
  started_at: string | null;
  kill_requested: boolean;
  running_reported: boolean;
  /** Set when the task finished; the entry is dropped once the host acknowledges this report. */
  final_report: (TaskStatusUpdate & { task_id: string }) | null;
  /** `vps` for a VPS session; absent for a command task. */
  task_type?: "vps";
  /** VPS only: the create request; null for a container adopted by its labels without a record. */
  vps_request?: ParsedRunnerVpsCreateRequest | null;
  /** VPS only: the restart count this container belongs to. */
  generation?: number;
  /** VPS only: the published SSH port, once known. */
  ssh_port?: number | null;
  /** VPS only: false until sshd sends its banner (true at once with SSH disabled). `running` is reported only after. */
  ready?: boolean;
  /** VPS only: the final status requested by a stop (`stopped`) or kill (`killed`), null otherwise. */
  stop_requested?: "stopped" | "killed" | null;
}

/**
 * Key under which a finished task is remembered. A VPS keeps its task id across restarts, so each
 * generation (restart) has its own key and a restarted VPS is not mistaken for a repeated dispatch.
 */
export function finishedKey(taskId: string, generation: number | undefined): string {
  return generation === undefined || generation === 0 ? taskId : `${taskId}@${generation}`;
}

interface StateFile {
  version: 1;
  tasks: Record<string, TaskEntry>;
  /** Ids of tasks whose final status the host acknowledged, with when; absent in older files. */
  finished?: Record<string, string>;
}

export class RunnerState {
  private readonly tasks = new Map<string, TaskEntry>();
  /** Finished task ids in the order they finished (Map keeps insertion order), so the oldest go first. */
  private readonly finished = new Map<string, string>();
  private writing: Promise<void> | null = null;
  private nextWrite: Promise<void> | null = null;

  /**
   * @param onWriteError called for every failed write (a full disk, say), also when no caller waits for it,
   *   so that a failed background write is logged instead of crashing the process as an unhandled rejection.
   */
  constructor(
    private readonly path: string,
    private readonly onWriteError: (error: unknown) => void = () => undefined,
  ) {}

  /** Reads the file; a missing file is an empty state, a corrupt one is an error naming the file. */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    let parsed: StateFile;
    try {
      parsed = JSON.parse(text) as StateFile;
    } catch (error) {
      throw new Error(
        `runner state file ${this.path} is not valid JSON (${(error as Error).message}); move it away to start empty`,
      );
    }
    for (const entry of Object.values(parsed.tasks ?? {})) this.tasks.set(entry.task_id, entry);
    for (const [taskId, finishedAt] of Object.entries(parsed.finished ?? {})) this.finished.set(taskId, finishedAt);
  }

  get(taskId: string): TaskEntry | undefined {
    return this.tasks.get(taskId);
  }

  list(): TaskEntry[] {
    return [...this.tasks.values()];
  }

  ids(): string[] {
    return [...this.tasks.keys()];
  }

  /** Stores a new or changed entry; resolves once it is on disk. */
  put(entry: TaskEntry): Promise<void> {
    this.tasks.set(entry.task_id, entry);
    return this.save();
  }

  /** Changes an entry in memory at once and returns it; `persisted` resolves once the change is on disk. */
  update(taskId: string, change: Partial<TaskEntry>): { entry: TaskEntry | undefined; persisted: Promise<void> } {
    const entry = this.tasks.get(taskId);
    if (entry === undefined) return { entry: undefined, persisted: Promise.resolve() };
    const updated = { ...entry, ...change };
    this.tasks.set(taskId, updated);
    return { entry: updated, persisted: this.save() };
  }

  /**
   * Moves a task whose final status the host acknowledged from the tasks to the finished ids. A dispatch
   * of that id arriving later (sent before the host stored the final status) is then recognised and not
   * run a second time. The newest MAX_FINISHED_IDS ids are kept.
   */
  finish(taskId: string, key = taskId): Promise<void> {
    this.tasks.delete(taskId);
    this.finished.set(key, new Date().toISOString());
    if (this.finished.size > MAX_FINISHED_IDS) {
      const oldest = this.finished.keys().next().value as string;
      this.finished.delete(oldest);
    }
    return this.save();
  }

  /** Returns whether the host has acknowledged this task's final status (`key` from finishedKey). */
  hasFinished(key: string): boolean {
    return this.finished.has(key);
  }

  /** Resolves when every change made so far is on disk. */
  flushed(): Promise<void> {
    return this.nextWrite ?? this.writing ?? Promise.resolve();
  }

  private save(): Promise<void> {
    if (this.writing === null) {
      this.writing = this.write().finally(() => {
        this.writing = null;
      });
      this.writing.catch(this.onWriteError);
      return this.writing;
    }
    // A write is in progress with older content: one more write, shared by every change until it starts.
    this.nextWrite ??= this.writing.then(() => {
      this.nextWrite = null;
      return this.save();
    });
    return this.nextWrite;
  }

  private async write(): Promise<void> {
    const content = JSON.stringify({
      version: 1,
      tasks: Object.fromEntries(this.tasks),
      finished: Object.fromEntries(this.finished),
    } satisfies StateFile);
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.tmp`;
    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);

    // The rename itself must reach the disk too, or a power loss could bring back the old file.
    const directory = await open(dirname(this.path), "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
