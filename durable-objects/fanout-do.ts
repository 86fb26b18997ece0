// FanoutDO: a relay between a topic shard and one chunk of a big fan-out's subscribers (DESIGN §7).
// The shard hands it a message once with the chunk's copies; it delivers each copy through its own outbox per
// session (in order, one call in flight, bursts batched) and answers once every copy is accepted.
// Memory only: nothing here is durable, so a relay that fails or resets fails the publish (no acknowledgement).
import { isOverloaded } from '../core/errors.js';
import { CoalescingOutbox, FULL, OverloadCounts } from '../core/routing/coalescing-outbox.js';
import { deliveryFor, messageBytes, type RelayAnswer, type RelayItem, type SessionAnswer } from '../core/routing/fanout-relay.js';
import type { Delivery } from '../core/routing/message.js';
import type { DeliverResult } from '../core/routing/subscription.js';
import { sessionStub } from './addresses.js';
import { brokerConfig, outboxBounds } from './config.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';
import type { InvocationCounts } from './invocation-counters.js';
import { afterQueuedEvents } from './shard-router.js';

export interface FanoutStatistics {
  invocations: InvocationCounts;
  /** QoS 0 copies dropped because their session's outbox here was full. */
  droppedQos0: number;
  /** QoS 1/2 copies refused for the same reason: their publish failed. */
  refusedOverload: number;
}

/** A copy on its way to a session, and what the session answered for the batch that carried it. */
interface Relayed {
  session: string;
  delivery: Delivery;
  answer?: DeliverResult;
}

export class FanoutDO extends CountedObject {
  private readonly outboxes = new Map<string, CoalescingOutbox<Relayed>>();
  private readonly overload = new OverloadCounts();

  /**
   * Delivers every item's copies; one answer per item, in order. Copies are queued in item order, so each
   * session gets them in the order the shard sent them.
   */
  async deliver(items: RelayItem[]): Promise<RelayAnswer[]> {
    this.invocations.rpc++;
    this.invocations.messagesIn += items.length;
    return Promise.all(items.map((item) => this.relay(item)));
  }

  async statistics(): Promise<FanoutStatistics> {
    this.invocations.rpc++;
    return { invocations: { ...this.invocations }, ...this.overload };
  }

  private async relay({ message, copies }: RelayItem): Promise<RelayAnswer> {
    const accepted: Promise<void>[] = [];
    const relayed: Relayed[] = [];
    let refused = 0;
    for (const copy of copies) {
      const entry: Relayed = { session: copy.session, delivery: deliveryFor(copy, message) };
      const offered = this.outboxFor(copy.session).offer(entry);
      if (offered === FULL) {
        if (this.overload.shed(copy.qos)) refused++;
        continue;
      }
      accepted.push(offered);
      relayed.push(entry);
    }
    this.invocations.messagesOut += accepted.length;
    // Wait for every copy, even after a failure: an answer must not leave while copies are still on their way.
    const outcomes = await Promise.allSettled(accepted);
    if (refused > 0) return { ok: false, overloaded: true, error: `${refused} copies of ${message.topic} refused by full outboxes` };
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) return { ok: false, overloaded: isOverloaded(failed.reason), error: String(failed.reason) };
    const sessions: SessionAnswer[] = [];
    for (const { session, answer } of relayed) {
      if (answer && (answer.stale.length > 0 || answer.online === false)) sessions.push({ session, stale: answer.stale, online: answer.online !== false });
    }
    return { ok: true, sessions };
  }

  private outboxFor(session: string): CoalescingOutbox<Relayed> {
    let outbox = this.outboxes.get(session);
    if (!outbox) {
      outbox = new CoalescingOutbox<Relayed>((batch) => this.deliverTo(session, batch), {
        ...outboxBounds(brokerConfig(this.env)),
        size: (entry) => messageBytes(entry.delivery),
        onIdle: () => this.outboxes.delete(session),
        schedule: afterQueuedEvents,
      });
      this.outboxes.set(session, outbox);
    }
    return outbox;
  }

  /** One RPC per batch; a failure fails every item with a copy in it (their publishes are not acknowledged). */
  private async deliverTo(session: string, batch: Relayed[]): Promise<void> {
    this.invocations.callsMade++;
    try {
      const answer = await sessionStub(this.env, session).deliver(batch.map((entry) => entry.delivery));
      for (const entry of batch) entry.answer = answer;
    } catch (error) {
      console.warn('relayed delivery failed: the publish is not acknowledged', { session, messages: batch.length, error: String(error) });
      throw error;
    }
  }
}
