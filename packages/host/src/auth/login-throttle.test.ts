import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { LoginThrottle } from "./login-throttle.js";

function throttleWithClock(): { throttle: LoginThrottle; advance: (ms: number) => void } {
  let now = 1_000_000;
  const throttle = new LoginThrottle({ baseDelayMs: 100, maxDelayMs: 1000, lockMs: 60_000 }, () => now);
  return { throttle, advance: (ms) => (now += ms) };
}

describe("login throttle", () => {
  it("delays then locks one account", () => {
    const { throttle } = throttleWithClock();
    const delays: number[] = [];
    for (let failure = 0; failure < 10; failure += 1) {
      const decision = throttle.check("alice", "10.0.0.1");
      assert.equal(decision.kind, "allow");
      delays.push(decision.kind === "allow" ? decision.delayMs : -1);
      throttle.recordFailure("alice", "10.0.0.1");
    }
    assert.deepEqual(delays, [0, 0, 0, 100, 200, 400, 800, 1000, 1000, 1000]);
    const locked = throttle.check("ALICE", "10.0.0.2");
    assert.equal(locked.kind, "locked", "the username counts whatever its case and address");
  });

  it("lock ends after lockMs", () => {
    const { throttle, advance } = throttleWithClock();
    for (let failure = 0; failure < 10; failure += 1) throttle.recordFailure("bob", "10.0.0.1");
    const locked = throttle.check("bob", "10.0.0.1");
    assert.equal(locked.kind === "locked" ? locked.retryAfterSeconds : 0, 60);
    advance(60_000);
    assert.deepEqual(throttle.check("bob", "10.0.0.1"), { kind: "allow", delayMs: 0 });
  });

  it("address locks after five times more", () => {
    const { throttle } = throttleWithClock();
    for (let failure = 0; failure < 49; failure += 1) throttle.recordFailure(`user-${failure}`, "10.0.0.9");
    assert.equal(throttle.check("someone-else", "10.0.0.9").kind, "allow");
    throttle.recordFailure("user-49", "10.0.0.9");
    assert.equal(throttle.check("someone-else", "10.0.0.9").kind, "locked");
    assert.equal(throttle.check("someone-else", "10.0.0.10").kind, "allow");
  });

  it("success clears only the username", () => {
    const { throttle } = throttleWithClock();
    for (let failure = 0; failure < 5; failure += 1) throttle.recordFailure("carol", "10.0.0.1");
    throttle.recordSuccess("carol");
    assert.deepEqual(throttle.check("carol", "10.0.0.2"), { kind: "allow", delayMs: 0 });
    for (let failure = 0; failure < 15; failure += 1) throttle.recordFailure(`guess-${failure}`, "10.0.0.1");
    const decision = throttle.check("carol", "10.0.0.1");
    assert.equal(decision.kind, "allow");
    assert.ok(decision.kind === "allow" && decision.delayMs > 0, "the address keeps its count");
  });
});
