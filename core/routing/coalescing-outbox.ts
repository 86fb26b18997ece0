// A per-destination pipeline: one call in flight, everything that arrives meanwhile goes as the next batch.
//
//   push(a) → send([a]) in flight        push(b), push(c) wait
//   send([a]) resolves                   → send([b, c]); a's promise resolves
//
// It keeps order per destination (calls never overlap) and turns a burst into few calls, which is what
// Durable Object request pricing and the ~1,000 requests/s per object ceiling reward.
//
// Bounded (EMQX emqx_mqueue style, rules up front):
//   • a batch holds at most `maximumBatch` items and `maximumBatchBytes` bytes, except that its first item
//     always goes, whatever its size (one 1.9 MB message is one call; 500 of them are not);
//   • the outbox holds (queued + in flight) at most `maximumItems` items and `maximumBytes` bytes; an item
//     that would pass either is not taken: offer() answers 'full' and the caller decides (drop a QoS 0 copy
//     and count it, refuse a QoS 1/2 one). An empty outbox takes one item whatever its size.
// Defaults are unbounded but for 500 items per batch, the behaviour before bounds existed.
import { OverloadedError } from '../errors.js';

/** What an outbox takes of its owner; every field has a default. */
export interface OutboxOptions<T> {
  /** Items per call (500). */
  maximumBatch?: number;
  /** Bytes per call, by `size` (unbounded). */
  maximumBatchBytes?: number;
  /** Items held, queued or in flight (unbounded). */
  maximumItems?: number;
  /** Bytes held, queued or in flight, by `size` (unbounded). */
  maximumBytes?: number;
  /** An item's size for the byte bounds (0 when absent). */
  size?: (item: T) => number;
  /** Called when everything pushed has been sent, so an owner can drop idle outboxes. */
  onIdle?: () => void;
  /**
   * When a flush starts after the first push into an empty outbox: at once by default; an adapter may
   * defer it (one macrotask) so that events already queued for the object join the first batch.
   */
  schedule?: (flush: () => void) => void;
}

/** offer()'s answer when taking the item would pass a bound: nothing was queued. */
export const FULL = 'full';

/**
 * What the owners of full outboxes shed, counted by one rule: a QoS 0 copy is dropped (it may be lost
 * [MQTT-4.3.1]), a QoS 1/2 one is refused and its publish must fail (no acknowledgement).
 */
export class OverloadCounts {
  droppedQos0 = 0;
  refusedOverload = 0;

  /** Counts a copy at `qos` a full outbox did not take; true when it is refused. */
  shed(qos: number): boolean {
    if (qos === 0) {
      this.droppedQos0++;
      return false;
    }
    this.refusedOverload++;
    return true;
  }
}

interface Waiting<T> {
  item: T;
  size: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class CoalescingOutbox<T> {
  private waiting: Waiting<T>[] = [];
  private sending = false;
  /** Items and bytes held: queued plus the batch in flight. */
  private heldItems = 0;
  private heldBytes = 0;
  private readonly maximumBatch: number;
  private readonly maximumBatchBytes: number;
  private readonly maximumItems: number;
  private readonly maximumBytes: number;
  private readonly size: (item: T) => number;
  private readonly onIdle: (() => void) | undefined;
  private readonly schedule: (flush: () => void) => void;

  constructor(
    private readonly send: (batch: T[]) => Promise<void>,
    options: OutboxOptions<T> = {},
  ) {
    this.maximumBatch = Math.max(1, options.maximumBatch || 500);
    this.maximumBatchBytes = options.maximumBatchBytes ?? Infinity;
    this.maximumItems = Math.max(1, options.maximumItems ?? Infinity);
    this.maximumBytes = options.maximumBytes ?? Infinity;
    this.size = options.size ?? (() => 0);
    this.onIdle = options.onIdle;
    this.schedule = options.schedule ?? ((flush) => flush());
  }

  /**
   * Queues `item` unless a bound says no: answers FULL (nothing queued), or a promise that resolves when the
   * batch holding `item` has been sent and rejects if that send failed.
   */
  offer(item: T): Promise<void> | typeof FULL {
    const size = this.size(item);
    if (this.heldItems > 0 && (this.heldItems >= this.maximumItems || this.heldBytes + size > this.maximumBytes)) return FULL;
    this.heldItems++;
    this.heldBytes += size;
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, size, resolve, reject });
      if (!this.sending) {
        this.sending = true;
        this.schedule(() => void this.drain());
      }
    });
  }

  /** offer(), with a full outbox as a rejection: an OverloadedError. */
  push(item: T): Promise<void> {
    const offered = this.offer(item);
    return offered === FULL ? Promise.reject(new OverloadedError('outbox full')) : offered;
  }

  /** True while nothing is queued or in flight (the owner may drop this outbox). */
  get idle(): boolean {
    return !this.sending && this.waiting.length === 0;
  }

  /** Items and bytes held now (queued plus in flight). */
  get held(): { items: number; bytes: number } {
    return { items: this.heldItems, bytes: this.heldBytes };
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.nextBatch();
      try {
        await this.send(batch.map((entry) => entry.item));
        this.release(batch);
        for (const entry of batch) entry.resolve();
      } catch (error) {
        this.release(batch);
        for (const entry of batch) entry.reject(error);
      }
    }
    this.sending = false;
    this.onIdle?.();
  }

  /** The head of the queue up to the batch bounds; at least one item. */
  private nextBatch(): Waiting<T>[] {
    let count = 0;
    let bytes = 0;
    for (const entry of this.waiting) {
      if (count >= this.maximumBatch || (count > 0 && bytes + entry.size > this.maximumBatchBytes)) break;
      count++;
      bytes += entry.size;
    }
    return this.waiting.splice(0, count);
  }

  private release(batch: readonly Waiting<T>[]): void {
    this.heldItems -= batch.length;
    for (const entry of batch) this.heldBytes -= entry.size;
  }
}
