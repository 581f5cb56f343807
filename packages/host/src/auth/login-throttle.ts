/**
 * Throttling of failed logins, counted per username and per client address. After `slowAfter` failures
 * in a row each further attempt gets its response later, doubling the delay each time up to `maxDelayMs`. After
 * `lockAfter` failures every attempt gets a 429 until `lockMs` have passed since the last failure.
 * An address gets `addressFactor` times these counts, because several people may share one address
 * behind NAT. A successful login clears the count of its username only, so logging in to one's own
 * account does not reset an address that guesses others' passwords. Counts live in memory, so a host
 * restart clears them.
 */

export interface LoginThrottleOptions {
  slowAfter: number;
  lockAfter: number;
  /** Multiplier of `slowAfter` and `lockAfter` for the count of a client address. */
  addressFactor: number;
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
  addressFactor: 5,
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
    const { baseDelayMs, maxDelayMs, lockMs } = this.options;
    let delayMs = 0;
    for (const key of keysOf(username, address)) {
      const count = this.current(key);
      if (count === undefined) continue;
      const { slowAfter, lockAfter } = this.limitsOf(key);
      if (count.failures >= lockAfter) {
        const remainingMs = count.lastFailureAt + lockMs - this.now();
        return { kind: "locked", retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)), key };
      }
      if (count.failures >= slowAfter) {
        delayMs = Math.max(delayMs, Math.min(maxDelayMs, baseDelayMs * 2 ** (count.failures - slowAfter)));
      }
    }
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

  recordSuccess(username: string): void {
    this.counts.delete(userKey(username));
  }

  private limitsOf(key: string): { slowAfter: number; lockAfter: number } {
    const { slowAfter, lockAfter, addressFactor } = this.options;
    const factor = key.startsWith("address:") ? addressFactor : 1;
    return { slowAfter: slowAfter * factor, lockAfter: lockAfter * factor };
  }

  private current(key: string): FailureCount | undefined {
    const count = this.counts.get(key);
    if (count === undefined) return undefined;
    const idleMs = this.now() - count.lastFailureAt;
    const locked = count.failures >= this.limitsOf(key).lockAfter;
    const expired = locked ? idleMs >= this.options.lockMs : idleMs >= this.options.forgetAfterMs;
    if (expired) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }
}

function userKey(username: string): string {
  return `user:${username.toLowerCase()}`;
}

function keysOf(username: string, address: string): string[] {
  return [userKey(username), `address:${address}`];
}
