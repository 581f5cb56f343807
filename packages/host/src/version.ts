/** Version reported by the host API and by runners in their heartbeats. */
export const HOST_VERSION = "0.1.0";
