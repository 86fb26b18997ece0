// A per-destination pipeline: one call in flight, everything that arrives meanwhile goes as the next batch.
//
//   push(a) → send([a]) in flight        push(b), push(c) wait
//   send([a]) resolves                   → send([b, c]); a's promise resolves
//
// It keeps order per destination (calls never overlap) and turns a burst into few calls, which is what
// Durable Object request pricing and the ~1,000 requests/s per object ceiling reward.

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class CoalescingOutbox<T> {
  private waiting: Waiting<T>[] = [];
  private sending = false;

  constructor(
    private readonly send: (batch: T[]) => Promise<void>,
    private readonly maximumBatch = 500,
    /** Called when everything pushed has been sent, so an owner can drop idle outboxes. */
    private readonly onIdle?: () => void,
    /**
     * When a flush starts after the first push into an empty outbox: at once by default; an adapter may
     * defer it (one macrotask) so that events already queued for the object join the first batch.
     */
    private readonly schedule: (flush: () => void) => void = (flush) => flush(),
  ) {}

  /** Resolves when the batch holding `item` has been sent; rejects if that send failed. */
  push(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.sending) {
        this.sending = true;
        this.schedule(() => void this.drain());
      }
    });
  }

  /** True while nothing is queued or in flight (the owner may drop this outbox). */
  get idle(): boolean {
    return !this.sending && this.waiting.length === 0;
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, Math.max(1, this.maximumBatch || 1));
      try {
        await this.send(batch.map((entry) => entry.item));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.sending = false;
    this.onIdle?.();
  }
}
