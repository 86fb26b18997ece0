// CombinerDO: the fan-in for a hot topic (core/routing/hot-topics.ts). Many publishers' sessions send their
// messages for the topic here; one outbox per shard turns their calls into one shard call per batch (one in
// flight), so the shard sees a few callers instead of thousands. Memory only: a call is answered with the
// shard's answer for its own messages, so the publishers' acknowledgements wait for the shard as before,
// and a failure fails the calls whose messages it carried.
import { OverloadedError } from '../core/errors.js';
import { CoalescingOutbox, FULL, OverloadCounts } from '../core/routing/coalescing-outbox.js';
import { messageBytes } from '../core/routing/fanout-relay.js';
import type { RoutedMessage } from '../core/routing/message.js';
import type { PublishAnswer, ShardAddress } from '../core/routing/shard-protocol.js';
import { shardStub } from './addresses.js';
import { brokerConfig, outboxBounds } from './config.js';
import { CountedObject } from './counted-object.js';
import { afterQueuedEvents } from './shard-router.js';

/** A message on its way through, and what its shard said about it. */
interface Combined {
  message: RoutedMessage;
  moved?: boolean;
}

export class CombinerDO extends CountedObject {
  private readonly outboxes = new Map<number, CoalescingOutbox<Combined>>();
  /** What the last shard answers said, returned with every answer (the router learns from them). */
  private depth = 0;
  private hot: string[] = [];
  private readonly overload = new OverloadCounts();

  /**
   * Publishes a caller's messages to `address` together with everyone else's: resolves once the shard took
   * them, with their positions it did not own ("moved": the caller resends those where it learns they went).
   */
  async routePublish(address: ShardAddress, messages: RoutedMessage[]): Promise<PublishAnswer> {
    this.invocations.rpc++;
    this.invocations.messagesIn += messages.length;
    const outbox = this.outboxFor(address);
    const items = messages.map((message): Combined => ({ message }));
    const taken = items.map((item) => {
      const offered = outbox.offer(item);
      if (offered !== FULL) return offered;
      // A dropped QoS 0 message is counted here; its publisher's call still succeeds.
      if (!this.overload.shed(item.message.qos)) return Promise.resolve();
      return Promise.reject(new OverloadedError(`the combiner of shard ${address.index} is full`));
    });
    await Promise.all(taken);
    const moved = items.flatMap((item, position) => (item.moved ? [position] : []));
    return { depth: this.depth, delivered: 0, moved, ...(this.hot.length > 0 ? { hot: this.hot } : {}) };
  }

  async statistics(): Promise<{ invocations: CombinerDO['invocations']; droppedQos0: number; refusedOverload: number }> {
    this.invocations.rpc++;
    return { invocations: { ...this.invocations }, ...this.overload };
  }

  private outboxFor(address: ShardAddress): CoalescingOutbox<Combined> {
    let outbox = this.outboxes.get(address.index);
    if (!outbox) {
      outbox = new CoalescingOutbox<Combined>(
        async (batch) => {
          this.invocations.callsMade++;
          this.invocations.messagesOut += batch.length;
          const answer = await shardStub(this.env, address.tenant, address.index).routePublish(address, batch.map((item) => item.message));
          this.depth = answer.depth;
          this.hot = answer.hot ?? [];
          for (const position of answer.moved) batch[position]!.moved = true;
        },
        { maximumBatch: 500, ...outboxBounds(brokerConfig(this.env)), size: (item) => messageBytes(item.message), schedule: afterQueuedEvents },
      );
      this.outboxes.set(address.index, outbox);
    }
    return outbox;
  }
}
