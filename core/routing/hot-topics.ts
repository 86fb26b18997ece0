// Hot topics and the combiners that carry them (issue 11, fan-in): one topic lives on one shard, and a shard
// takes ~1,000 calls/s. When many publishers send to one topic, each publisher's session sends its messages
// for that topic through one of C combiner objects instead (chosen by the publisher, so its order holds),
// and each combiner turns the calls of many publishers into one shard call per batch:
//
//   1,000 publishers ──1,000 calls/s──▶ shard        becomes
//   1,000 publishers ──▶ 16 combiners ──≤16 calls in flight, batched──▶ shard
//
// The shard measures each topic's message rate (HotTopicMeter) and names the hot ones in its publish
// answers; a router remembers them for HOT_HOLD_MS (HotTopics) and routes them through the combiners.
import { topicHash } from './shard.js';

/** How long a topic stays hot after it was last seen above the rate (hysteresis: no flapping). */
export const HOT_HOLD_MS = 30_000;
const WINDOW_MS = 1_000;

/** The shard side: messages per topic per second; a topic at or above `rate` is hot for HOT_HOLD_MS. */
export class HotTopicMeter {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();
  private readonly hotUntil = new Map<string, number>();

  constructor(private readonly rate: number) {}

  /** Counts one call's messages; answers the topics among them that are hot now. */
  note(topics: readonly string[], now: number): string[] {
    if (now - this.windowStart >= WINDOW_MS) this.roll(now);
    for (const topic of topics) {
      const count = (this.counts.get(topic) ?? 0) + 1;
      this.counts.set(topic, count);
      // Within the window already: hot at once, not only at the next roll.
      if (count === this.rate) this.hotUntil.set(topic, now + HOT_HOLD_MS);
    }
    const hot = new Set<string>();
    for (const topic of topics) if ((this.hotUntil.get(topic) ?? 0) > now) hot.add(topic);
    return [...hot];
  }

  private roll(now: number): void {
    this.counts.clear();
    for (const [topic, until] of this.hotUntil) if (until <= now) this.hotUntil.delete(topic);
    this.windowStart = now;
  }
}

/** The router side: topics a shard said were hot, until when. Bounded: the oldest marks go first. */
export class HotTopics {
  private readonly until = new Map<string, number>();

  constructor(private readonly maximum = 1024) {}

  mark(topics: readonly string[], now: number): void {
    for (const topic of topics) {
      this.until.delete(topic);
      this.until.set(topic, now + HOT_HOLD_MS);
    }
    while (this.until.size > this.maximum) this.until.delete(this.until.keys().next().value!);
  }

  isHot(topic: string, now: number): boolean {
    const until = this.until.get(topic);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(topic);
    return false;
  }
}

/** The combiner a publisher's messages go through: always the same one, so they stay in order. */
export function combinerSlot(publisher: string, combiners: number): number {
  return topicHash(publisher) % combiners;
}
