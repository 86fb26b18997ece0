// The session's queue as the state machine sees it: the rows stay in SQLite; here, each queued message's
// payload size, oldest first, so that both bounds (messages and bytes) drop exactly the right rows.
//
//   push(4) push(4) push(4)       [4 4 4]   length 3, bytes 12
//   overflow(10 messages, 10 B)   { byCount: 0, byBytes: 1 }: dropping the oldest one leaves 8 B
//   dropOldest(1)                 [4 4]     the store drops the same rows ('dropOldestQueued', by seq order)
//   shift()                       [4]       a read moved the oldest into the inflight window
//
// Why sizes and not only a byte total: the store could drop "until under N bytes", but the state machine
// would then have to read back what went to stay exact. One number per queued message (the count bound
// keeps it small) lets the reducer decide the drop itself and emit the count, as the count bound always did.

/** out: messages waiting for the inflight window: their sizes, oldest first, and the read cursor. */
export class SessionQueue {
  /** seq of the last queued row moved into the window: the next read starts after it. */
  drainedSeq = 0;
  /** A read of queued rows is in flight (memory only: reads answer within the step that asked). */
  reading = false;
  private readonly sizes: number[];
  private total: number;

  /** `sizes`: the payload sizes of the queued rows in seq order (SessionStore.load). */
  constructor(sizes: readonly number[] = []) {
    this.sizes = [...sizes];
    this.total = this.sizes.reduce((sum, size) => sum + size, 0);
  }

  /** Messages queued. */
  get length(): number {
    return this.sizes.length;
  }

  /** Payload bytes queued. */
  get bytes(): number {
    return this.total;
  }

  /** A message joined the queue (newest). */
  push(size: number): void {
    this.sizes.push(size);
    this.total += size;
  }

  /** The oldest message left the queue (read into the window, or deleted as it was read). */
  shift(): void {
    this.total -= this.sizes.shift() ?? 0;
  }

  /** The `count` oldest messages were dropped. */
  dropOldest(count: number): void {
    for (const size of this.sizes.splice(0, count)) this.total -= size;
  }

  clear(): void {
    this.sizes.length = 0;
    this.total = 0;
  }

  /**
   * How many of the oldest messages must go for the rest to be within both bounds: first those the count
   * bound asks for, then as many more as the byte bound needs (each counted under its own name).
   */
  overflow(maxCount: number, maxBytes: number): { byCount: number; byBytes: number } {
    const byCount = Math.max(0, this.sizes.length - maxCount);
    let bytes = this.total;
    for (let i = 0; i < byCount; i++) bytes -= this.sizes[i]!;
    let byBytes = 0;
    while (bytes > maxBytes && byCount + byBytes < this.sizes.length) bytes -= this.sizes[byCount + byBytes++]!;
    return { byCount, byBytes };
  }
}
