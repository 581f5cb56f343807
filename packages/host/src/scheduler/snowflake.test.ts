import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SnowflakeGenerator, snowflakeTimestamp } from "./snowflake.js";

describe("SnowflakeGenerator", () => {
  it("encodes the timestamp and grows within one millisecond", () => {
    const generator = new SnowflakeGenerator(0, () => 1_800_000_000_000);
    const first = generator.next();
    const second = generator.next();
    assert.equal(snowflakeTimestamp(first), 1_800_000_000_000);
    assert.ok(BigInt(second) > BigInt(first));
  });

  it("keeps growing when the clock steps back", () => {
    let now = 1_800_000_000_000;
    const generator = new SnowflakeGenerator(0, () => now);
    const before = generator.next();
    now -= 5000;
    assert.ok(BigInt(generator.next()) > BigInt(before));
  });

  it("continues after the newest stored id", () => {
    const stored = new SnowflakeGenerator(0, () => 1_900_000_000_000).next();
    const generator = new SnowflakeGenerator(0, () => 1_800_000_000_000);
    generator.advancePast(stored);
    assert.ok(BigInt(generator.next()) > BigInt(stored));
  });

  it("borrows the next millisecond when 4096 ids were used", () => {
    const generator = new SnowflakeGenerator(0, () => 1_800_000_000_000);
    const ids = Array.from({ length: 5000 }, () => generator.next());
    assert.equal(new Set(ids).size, 5000);
    assert.equal(snowflakeTimestamp(ids[4999] as string), 1_800_000_000_001);
  });

  it("exceeds JavaScript's safe integers, so ids stay strings", () => {
    const id = new SnowflakeGenerator().next();
    assert.ok(BigInt(id) > BigInt(Number.MAX_SAFE_INTEGER));
  });

  it("rejects an instance outside 10 bits", () => {
    assert.throws(() => new SnowflakeGenerator(1024), /0 to 1023/);
  });
});
