/**
 * The runner's durable record of its tasks, in one JSON file written atomically on every change.
 *
 * A task enters the file before the runner acknowledges its dispatch and leaves it only after the host
 * has acknowledged the task's final status, so a runner killed at any moment neither forgets a task it
 * accepted nor loses a result it has not delivered.
 */

import { readFileSync } from "node:fs";

import type { ParsedTaskExecuteRequest, TaskStatusUpdate } from "@kohakuriver/api";
import { writeFileAtomic } from "@kohakuriver/common";

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
}

interface StateFile {
  version: 1;
  tasks: Record<string, TaskEntry>;
}

export class RunnerState {
  private readonly tasks = new Map<string, TaskEntry>();

  constructor(private readonly path: string) {}

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
      throw new Error(`runner state file ${this.path} is not valid JSON (${(error as Error).message}); move it away to start empty`);
    }
    for (const entry of Object.values(parsed.tasks ?? {})) this.tasks.set(entry.task_id, entry);
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

  /** Stores a new or changed entry and writes the file before returning. */
  put(entry: TaskEntry): void {
    this.tasks.set(entry.task_id, entry);
    this.save();
  }

  update(taskId: string, change: Partial<TaskEntry>): TaskEntry | undefined {
    const entry = this.tasks.get(taskId);
    if (entry === undefined) return undefined;
    const updated = { ...entry, ...change };
    this.tasks.set(taskId, updated);
    this.save();
    return updated;
  }

  remove(taskId: string): void {
    if (this.tasks.delete(taskId)) this.save();
  }

  private save(): void {
    const file: StateFile = { version: 1, tasks: Object.fromEntries(this.tasks) };
    writeFileAtomic(this.path, JSON.stringify(file), 0o600);
  }
}
