/**
 * Task ids: 64-bit snowflakes (41-bit millisecond timestamp since the Unix epoch, 10-bit instance,
 * 12-bit sequence), the same layout as the original, returned as decimal strings.
 *
 * Ids only grow: if the clock steps back, or the host restarts with a clock behind the newest stored id,
 * the generator keeps counting from the last timestamp it used instead of repeating ids.
 */

const SEQUENCE_BITS = 12n;
const INSTANCE_BITS = 10n;
const MAX_SEQUENCE = (1n << SEQUENCE_BITS) - 1n;

export class SnowflakeGenerator {
  private lastTimestamp = 0n;
  private sequence = 0n;
  private readonly instance: bigint;

  constructor(
    instance = 0,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(instance) || instance < 0 || instance >= 1 << Number(INSTANCE_BITS)) {
      throw new RangeError(`snowflake instance must be an integer from 0 to 1023, got ${instance}`);
    }
    this.instance = BigInt(instance);
  }

  /** Makes every later id larger than `id` (used at start with the newest stored id). */
  advancePast(id: string): void {
    const timestamp = BigInt(id) >> (SEQUENCE_BITS + INSTANCE_BITS);
    if (timestamp > this.lastTimestamp) {
      this.lastTimestamp = timestamp;
      this.sequence = MAX_SEQUENCE;
    }
  }

  next(): string {
    let timestamp = BigInt(this.now());
    if (timestamp < this.lastTimestamp) timestamp = this.lastTimestamp;

    if (timestamp === this.lastTimestamp) {
      this.sequence += 1n;
      if (this.sequence > MAX_SEQUENCE) {
        // The sequence for this millisecond is used up: borrow the next millisecond.
        timestamp += 1n;
        this.sequence = 0n;
      }
    } else {
      this.sequence = 0n;
    }
    this.lastTimestamp = timestamp;

    const id = (timestamp << (SEQUENCE_BITS + INSTANCE_BITS)) | (this.instance << SEQUENCE_BITS) | this.sequence;
    return id.toString();
  }
}

/** Returns the creation time (milliseconds since the Unix epoch) encoded in a snowflake id. */
export function snowflakeTimestamp(id: string): number {
  return Number(BigInt(id) >> (SEQUENCE_BITS + INSTANCE_BITS));
}
