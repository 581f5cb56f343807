import type { TaskResponse } from "@kohakuriver/api";

import type { Store, TaskRecord } from "../store/types.js";

/** Returns tasks as the API returns them, with the usernames of their owners and approvers looked up. */
export async function toTaskResponses(store: Store, tasks: readonly TaskRecord[]): Promise<TaskResponse[]> {
  const ids = new Set<number>();
  for (const task of tasks) {
    if (task.owner_id !== null) ids.add(task.owner_id);
    if (task.approved_by_id !== null) ids.add(task.approved_by_id);
  }
  const usernames = new Map<number, string>();
  for (const id of ids) {
    const user = await store.auth.getUser(id);
    if (user !== undefined) usernames.set(id, user.username);
  }

  return tasks.map((task) => {
    const { dispatch_confirmed: _dispatchConfirmed, ...fields } = task;
    return {
      ...fields,
      owner_username: task.owner_id === null ? null : (usernames.get(task.owner_id) ?? null),
      approved_by_username: task.approved_by_id === null ? null : (usernames.get(task.approved_by_id) ?? null),
    };
  });
}

export async function toTaskResponse(store: Store, task: TaskRecord): Promise<TaskResponse> {
  const [response] = await toTaskResponses(store, [task]);
  return response as TaskResponse;
}
