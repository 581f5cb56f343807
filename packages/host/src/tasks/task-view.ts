import type { TaskResponse } from "@kohakuriver/api";

import type { TaskRecord } from "../store/types.js";

/** A task record as the API returns it; user names stay null until accounts exist. */
export function toTaskResponse(task: TaskRecord): TaskResponse {
  const { dispatch_confirmed: _dispatchConfirmed, ...fields } = task;
  return { ...fields, owner_username: null, approved_by_username: null };
}
