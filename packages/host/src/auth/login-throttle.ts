/**
 * Throttling of failed logins, counted per username and per client address. After `slowAfter` failures
 * in a row each further attempt is answered later, doubling the delay each time up to `maxDelayMs`; after
 * `lockAfter` failures every attempt is answered 429 until `lockMs` have passed since the last failure.
 * A successful login clears the count of its username and address. Counts live in memory, so a host
 * restart clears them.
 */

export interface LoginThrottleOptions {
  slowAfter: number;
  lockAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
  lockMs: number;
  /** A count is forgotten when no failure was added to it for this long. */
  forgetAfterMs: number;
  /** Counts kept at most; the oldest are dropped first, so a flood of names cannot exhaust memory. */
  maxEntries: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = {
  slowAfter: 3,
  lockAfter: 10,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  lockMs: 5 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxEntries: 100_000,
};

interface FailureCount {
  failures: number;
  lastFailureAt: number;
}

export type ThrottleDecision =
  { kind: "allow"; delayMs: number } | { kind: "locked"; retryAfterSeconds: number; key: string };

export class LoginThrottle {
  private readonly counts = new Map<string, FailureCount>();
  readonly options: LoginThrottleOptions;

  constructor(
    options: Partial<LoginThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_LOGIN_THROTTLE, ...options };
  }

  /** Decides how to treat a login attempt before the password is checked. */
  check(username: string, address: string): ThrottleDecision {
    const { slowAfter, lockAfter, baseDelayMs, maxDelayMs, lockMs } = this.options;
    let worst = { failures: 0, lastFailureAt: 0, key: "" };
    for (const key of keysOf(username, address)) {
      const count = this.current(key);
      if (count !== undefined && count.failures > worst.failures) worst = { ...count, key };
    }

    if (worst.failures >= lockAfter) {
      const remainingMs = worst.lastFailureAt + lockMs - this.now();
      return { kind: "locked", retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)), key: worst.key };
    }
    if (worst.failures < slowAfter) return { kind: "allow", delayMs: 0 };
    const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (worst.failures - slowAfter));
    return { kind: "allow", delayMs };
  }

  recordFailure(username: string, address: string): number {
    let failures = 0;
    for (const key of keysOf(username, address)) {
      const count = this.current(key) ?? { failures: 0, lastFailureAt: 0 };
      count.failures += 1;
      count.lastFailureAt = this.now();
      this.counts.delete(key);
      this.counts.set(key, count);
      failures = Math.max(failures, count.failures);
    }
    while (this.counts.size > this.options.maxEntries) {
      this.counts.delete(this.counts.keys().next().value as string);
    }
    return failures;
  }

  recordSuccess(username: string, address: string): void {
    for (const key of keysOf(username, address)) this.counts.delete(key);
  }

  private current(key: string): FailureCount | undefined {
    const count = this.counts.get(key);
    if (count === undefined) return undefined;
    const idleMs = this.now() - count.lastFailureAt;
    const expired =
      count.failures >= this.options.lockAfter ? idleMs >= this.options.lockMs : idleMs >= this.options.forgetAfterMs;
    if (expired) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }
}

function keysOf(username: string, address: string): string[] {
  return [`user:${username.toLowerCase()}`, `address:${address}`];
}
