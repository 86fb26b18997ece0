// The messages a rule holds, and how they become batches. A rule holds no queue of its own: its session
// stores what matches and pushes at most Receive Maximum (= maxMessages) unacknowledged messages at once, so
// what this holds is bounded by that, however long the destination is down.
//
//   session ──PUBLISH──▶ waiting [m5 m6 m7]          not acknowledged yet
//                        in flight [m1 m2 m3 m4]     one batch at a time, retried until it is taken or
//                                                    dead-lettered; then PUBACKed, in order
//
// A batch goes when it is full (maxMessages, or maxBytes of topic and payload) or when its first message has
// waited maxWaitMs. Its first message always goes, whatever its size.
//
// QoS 0 messages are not acknowledged, so Receive Maximum does not hold them back: past twice maxMessages
// held, a QoS 0 message is dropped and counted (at most once allows it); QoS 1 ones wait in the session.
import type { BatchLimits } from './rule.js';

/** The size of a message for the byte bound. */
export interface Sized {
  bytes: number;
}

/** May a QoS 0 message join when `held` messages are held already? */
export function roomForQos0(held: number, limits: BatchLimits): boolean {
  return held < 2 * limits.maxMessages;
}

export class BatchAssembler<T extends Sized> {
  private readonly waiting: Array<{ item: T; at: number }> = [];
  private waitingBytes = 0;

  constructor(private readonly limits: BatchLimits) {}

  /** Adds a message that arrived at `now`. */
  add(item: T, now: number): void {
    this.waiting.push({ item, at: now });
    this.waitingBytes += item.bytes;
  }

  get size(): number {
    return this.waiting.length;
  }

  /** True when the next batch is already full: it should go now, whatever maxWaitMs says. */
  get full(): boolean {
    return this.waiting.length >= this.limits.maxMessages || this.waitingBytes >= this.limits.maxBytes;
  }

  /**
   * When the next batch is due: now when full, else when its first message has waited maxWaitMs; undefined
   * when nothing waits. `atLeast` is how many messages the batch wants before it is full (a batch being
   * re-formed after a restart wants the messages it had).
   */
  dueAt(now: number, atLeast = this.limits.maxMessages): number | undefined {
    const first = this.waiting[0];
    if (!first) return undefined;
    if (this.full || this.waiting.length >= atLeast) return now;
    return first.at + this.limits.maxWaitMs;
  }

  /** Takes the next batch: at most `limit` (≤ maxMessages) messages and maxBytes, the first one always. */
  take(limit = this.limits.maxMessages): T[] {
    const batch: T[] = [];
    let bytes = 0;
    while (this.waiting.length > 0 && batch.length < Math.min(limit, this.limits.maxMessages)) {
      const next = this.waiting[0]!.item;
      if (batch.length > 0 && bytes + next.bytes > this.limits.maxBytes) break;
      this.waiting.shift();
      this.waitingBytes -= next.bytes;
      bytes += next.bytes;
      batch.push(next);
    }
    return batch;
  }

  /** Forgets everything (the session link ended: the session sends these again). */
  clear(): T[] {
    const dropped = this.waiting.map((w) => w.item);
    this.waiting.length = 0;
    this.waitingBytes = 0;
    return dropped;
  }
}
