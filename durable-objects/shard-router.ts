// How a session (or the tenant) reaches the topic shards: publish to one shard, subscribe to one or all.
import { CoalescingOutbox } from '../core/routing/coalescing-outbox.js';
import type { RoutedMessage } from '../core/routing/message.js';
import { shardOf, shardsForFilter } from '../core/routing/shard.js';
import { subscriptionOptions, type ShardSubscription, type SubscribeOutcome, type SubscribeResult } from '../core/routing/subscription.js';
import { shardStub } from './addresses.js';
import type { Env } from './env.js';

/** Flush after one macrotask: publishes of events already queued for this object join the first call. */
export function afterQueuedEvents(flush: () => void): void {
  setTimeout(flush, 0);
}

/**
 * One outbox per shard keeps a publisher's messages to that shard in order and batches bursts
 * into one RPC call (DESIGN §2: a publish touches one shard). Subscribes and unsubscribes to one shard are
 * chained, so that a late unsubscribe (a discarded session's) never overtakes a new subscribe.
 */
export class ShardRouter {
  private readonly outboxes = new Map<number, CoalescingOutbox<RoutedMessage>>();
  private readonly controls = new Map<number, Promise<unknown>>();

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
   * subscription where its inner filter goes) and collects each shard's first page of retained messages,
   * expiry included. An entry with `continueFrom` registers nothing: it reads the next page from each shard
   * named, after its cursor (core/session/retained-replay.ts).
   */
  async subscribe(session: string, subscriptions: readonly ShardSubscription[]): Promise<Map<string, SubscribeOutcome>> {
    const byShard = new Map<number, ShardSubscription[]>();
    const add = (index: number, entry: ShardSubscription) => {
      const group = byShard.get(index);
      if (group) group.push(entry);
      else byShard.set(index, [entry]);
    };
    for (const subscription of subscriptions) {
      const entry: ShardSubscription = { filter: subscription.filter, ...subscriptionOptions(subscription) };
      if (subscription.continueFrom) for (const { shard, after } of subscription.continueFrom) add(shard, { ...entry, after });
      else for (const index of shardsForFilter(subscription.filter, this.shardCount)) add(index, entry);
    }
    const merged = new Map<string, SubscribeOutcome>();
    for (const subscription of subscriptions) merged.set(subscription.filter, { isNew: false, pages: [] });
    const answers = await Promise.all(
      [...byShard].map(async ([index, group]) => ({ index, results: await this.inOrder(index, () => shardStub(this.env, this.tenant, index).subscribe(session, group)) })),
    );
    for (const { index, results } of answers) {
      for (const result of results) {
        const entry = merged.get(result.filter);
        if (!entry) continue;
        entry.isNew ||= result.isNew;
        // RPC typing widens tuples (user properties); the values are what the shard stored.
        const { retained, next } = result as SubscribeResult;
        entry.pages.push({ shard: index, retained, ...(next === undefined ? {} : { next }) });
      }
    }
    return merged;
  }

  async unsubscribe(session: string, filters: readonly string[]): Promise<void> {
    if (filters.length === 0) return;
    const byShard = this.groupByShard(filters, (f) => f);
    await Promise.all([...byShard].map(([index, group]) => this.inOrder(index, () => shardStub(this.env, this.tenant, index).unsubscribe(session, group))));
  }

  /** Runs a (un)subscribe call to one shard after the earlier ones to it have settled. */
  private inOrder<T>(index: number, call: () => Promise<T>): Promise<T> {
    const previous = this.controls.get(index) ?? Promise.resolve();
    const next = previous.then(call, call);
    const settled = next.catch(() => undefined);
    this.controls.set(index, settled);
    void settled.then(() => {
      if (this.controls.get(index) === settled) this.controls.delete(index);
    });
    return next;
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
