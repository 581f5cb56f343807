/** Version the runner reports in registrations and heartbeats. */
export const RUNNER_VERSION = "0.1.0";
