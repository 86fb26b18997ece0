// How a session (or the tenant) reaches the topic shards: publish to one shard, subscribe to one or all.
import { CoalescingOutbox } from '../core/util/coalescing-outbox.js';
import { shardOf, shardsForFilter } from '../core/topic/shard.js';
import type { Env } from '../worker/env.js';
import { shardStub } from './addresses.js';
import type { RetainedMessage, RoutedMessage, ShardSubscription } from './routed-message.js';

/** Flush after one macrotask: publishes of events already queued for this object join the first call. */
export function afterQueuedEvents(flush: () => void): void {
  setTimeout(flush, 0);
}

export interface MergedSubscribeResult {
  isNew: boolean;
  retained: RetainedMessage[];
}

/**
 * One outbox per shard keeps a publisher's messages to that shard in order and batches bursts
 * into one RPC call (DESIGN §2: a publish touches one shard).
 */
export class ShardRouter {
  private readonly outboxes = new Map<number, CoalescingOutbox<RoutedMessage>>();

  constructor(
    private readonly env: Env,
    private readonly tenant: string,
    private readonly shardCount: number,
  ) {}

  /** Resolves once the shard has stored (if retained) and delivered the message to every subscriber. */
  publish(message: RoutedMessage): Promise<void> {
    const index = shardOf(message.topic, this.shardCount);
    let outbox = this.outboxes.get(index);
    if (!outbox) {
      outbox = new CoalescingOutbox<RoutedMessage>(
        async (batch) => {
          await shardStub(this.env, this.tenant, index).publish(batch);
        },
        500,
        undefined,
        afterQueuedEvents,
      );
      this.outboxes.set(index, outbox);
    }
    return outbox.push(message);
  }

  /** Publishes without batching and answers how many sessions received the message (for $SYS). */
  publishCounted(message: RoutedMessage): Promise<number> {
    return shardStub(this.env, this.tenant, shardOf(message.topic, this.shardCount)).publish([message]);
  }

  /**
   * Registers filters and their 5.0 options with their shards (a wildcard goes to every shard; a shared
   * subscription where its inner filter goes) and collects retained messages, expiry included.
   */
  async subscribe(session: string, subscriptions: readonly ShardSubscription[]): Promise<Map<string, MergedSubscribeResult>> {
    const byShard = this.groupByShard(subscriptions.map(shardSubscription), (s) => s.filter);
    const merged = new Map<string, MergedSubscribeResult>();
    for (const subscription of subscriptions) merged.set(subscription.filter, { isNew: false, retained: [] });
    const answers = await Promise.all(
      [...byShard].map(([index, group]) => shardStub(this.env, this.tenant, index).subscribe(session, group)),
    );
    for (const answer of answers) {
      for (const result of answer) {
        const entry = merged.get(result.filter);
        if (!entry) continue;
        entry.isNew ||= result.isNew;
        // RPC typing widens tuples (user properties); the values are what the shard stored.
        entry.retained.push(...(result.retained as RetainedMessage[]));
      }
    }
    return merged;
  }

  async unsubscribe(session: string, filters: readonly string[]): Promise<void> {
    if (filters.length === 0) return;
    const byShard = this.groupByShard(filters, (f) => f);
    await Promise.all([...byShard].map(([index, group]) => shardStub(this.env, this.tenant, index).unsubscribe(session, group)));
  }

  private groupByShard<T>(items: readonly T[], filterOf: (item: T) => string): Map<number, T[]> {
    const byShard = new Map<number, T[]>();
    for (const item of items) {
      for (const index of shardsForFilter(filterOf(item), this.shardCount)) {
        const group = byShard.get(index);
        if (group) group.push(item);
        else byShard.set(index, [item]);
      }
    }
    return byShard;
  }
}

/** Exactly the fields a shard stores, so a caller's richer object (a decoded SUBSCRIBE entry) never rides along. */
function shardSubscription(subscription: ShardSubscription): ShardSubscription {
  const { filter, qos, noLocal, retainAsPublished, subscriptionIdentifier } = subscription;
  return {
    filter,
    qos,
    ...(noLocal ? { noLocal } : {}),
    ...(retainAsPublished ? { retainAsPublished } : {}),
    ...(subscriptionIdentifier !== undefined ? { subscriptionIdentifier } : {}),
  };
}
