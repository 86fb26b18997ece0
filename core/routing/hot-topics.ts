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

/**
 * Distinct publishers a topic needs within one window to count as hot. A combiner batches many publishers'
 * calls into one; one publisher's messages are batched by its own session already, and a detour through a
 * combiner would only add a hop (fan-in from 10 publishers at 2,000 msg/s each measured it).
 */
export const HOT_TOPIC_MIN_PUBLISHERS = 4;

/**
 * The shard side: messages and distinct publishers per topic per second; a topic at or above `rate` with at
 * least HOT_TOPIC_MIN_PUBLISHERS publishers is hot for HOT_HOLD_MS.
 */
export class HotTopicMeter {
  private windowStart = 0;
  private readonly counts = new Map<string, { messages: number; publishers: Set<string>; marked: boolean }>();
  private readonly hotUntil = new Map<string, number>();

  constructor(
    private readonly rate: number,
    private readonly minPublishers = HOT_TOPIC_MIN_PUBLISHERS,
  ) {}

  /** Counts one call's messages (topic and publisher); answers the topics among them that are hot now. */
  note(messages: ReadonlyArray<{ topic: string; origin?: string }>, now: number): string[] {
    if (now - this.windowStart >= WINDOW_MS) this.roll(now);
    for (const { topic, origin } of messages) {
      let count = this.counts.get(topic);
      if (!count) {
        count = { messages: 0, publishers: new Set(), marked: false };
        this.counts.set(topic, count);
      }
      count.messages++;
      // Only whether there are enough is asked: the set stops growing there.
      if (count.publishers.size < this.minPublishers) count.publishers.add(origin ?? '');
      // Within the window already: hot at once, not only at the next roll; each hot window extends the hold.
      if (!count.marked && count.messages >= this.rate && count.publishers.size >= this.minPublishers) {
        count.marked = true;
        this.hotUntil.set(topic, now + HOT_HOLD_MS);
      }
    }
    const hot = new Set<string>();
    for (const { topic } of messages) if ((this.hotUntil.get(topic) ?? 0) > now) hot.add(topic);
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
