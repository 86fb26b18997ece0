// The shard's delivery pipeline: each copy of a message to its session's outbox, or in chunks through the
// fan-out relays (FanoutDO), each session's copies kept in order; full outboxes shed QoS 0 and refuse QoS 1/2.
import { OverloadedError } from '../../core/errors.js';
import { CoalescingOutbox, FULL, OverloadCounts } from '../../core/routing/coalescing-outbox.js';
import { DeliveryLanes, type LaneTicket } from '../../core/routing/delivery-lanes.js';
import type { MatchTopic, PickMember, PlannedDelivery } from '../../core/routing/fan-out.js';
import { deliveryFor, messageBytes, planFanout, relayedMessage, relayItemBytes, type RelayAnswer, type RelayCopy, type RelayItem } from '../../core/routing/fanout-relay.js';
import type { ApplicationMessage, Delivery, RoutedMessage } from '../../core/routing/message.js';
import { planSharedRedelivery, sharedCopy, type SharedCopy } from '../../core/routing/shared-redelivery.js';
import { SharedSubscriptionBalancer } from '../../core/routing/shared-subscriptions.js';
import type { DeliverResult } from '../../core/routing/subscription.js';
import type { InvocationCounts } from '../invocation-counters.js';
import type { MessageCounters } from './counters.js';

/** What the pipeline needs of the shard: its configuration, its counts, its subscriptions and its peers. */
export interface DeliveryPorts {
  /** Copies of one message past which they go through relays (config.ts fanoutThreshold). */
  fanoutThreshold: number;
  /** The bounds of every outbox (config.ts outboxBounds); the lanes hold at most `maximumItems` waiting copies. */
  outboxBounds: { maximumItems: number; maximumBytes: number; maximumBatchBytes: number };
  /** When an outbox flushes its batch (shard-router.ts afterQueuedEvents). */
  schedule: (flush: () => void) => void;
  invocations: InvocationCounts;
  counters: MessageCounters;
  /** The subscriptions matching a topic now: a shared copy's redelivery plans against them. */
  match: MatchTopic;
  /** Forgets filters a session answered it no longer holds. */
  forget: (session: string, filters: readonly string[]) => void;
  /** One delivery call to a session (SessionDO.deliver). */
  deliverToSession: (session: string, deliveries: Delivery[]) => Promise<DeliverResult>;
  /** One call to relay `slot` (FanoutDO.deliver), answered per item. */
  deliverToRelay: (slot: number, items: RelayItem[]) => Promise<RelayAnswer[]>;
}

/** A delivery on its way to one session; a shared subscription's copy can go to another member instead. */
interface Outgoing {
  delivery: Delivery;
  share?: SharedCopy<RoutedMessage>;
  /** Set when the picked member no longer held the shared subscription and the copy went elsewhere. */
  redelivered?: Promise<void>;
}

/** A chunk of a big fan-out on its way to its relay, and the relay's answer for it. */
interface RelayOutgoing {
  item: RelayItem;
  answer?: RelayAnswer;
}

/** The lane (delivery-lanes.ts) of copies the shard sends straight to their sessions. */
const DIRECT = 'direct';

export class ShardDeliveries {
  /** One delivery pipeline per subscribed session: in order, one call in flight, bursts batched. */
  private readonly outboxes = new Map<string, CoalescingOutbox<Outgoing>>();
  /** One pipeline per fan-out relay slot (fanout-relay.ts): chunks of big fan-outs, in order, batched. */
  private readonly relayOutboxes = new Map<number, CoalescingOutbox<RelayOutgoing>>();
  /** Keeps each session's copies in order across the direct path and the relays; waiting copies bounded. */
  private readonly lanes: DeliveryLanes;
  /** Copies full outboxes did not take since the last start: QoS 0 dropped, QoS 1/2 refused (publish failed). */
  readonly overload = new OverloadCounts();
  /** Which member of each shared subscription gets the next message; memory only. */
  private readonly balancer = new SharedSubscriptionBalancer();

  constructor(private readonly ports: DeliveryPorts) {
    this.lanes = new DeliveryLanes(ports.outboxBounds.maximumItems);
  }

  /** The balancer as fan-out's member picker, at one instant. */
  picker(now: number): PickMember {
    return (filter, members) => this.balancer.pick(filter, members, now);
  }

  /**
   * Hands one message's copies to their paths (planFanout): each ordinary copy straight to its session while
   * they are few, in relay chunks past FANOUT_THRESHOLD; shared subscriptions' copies always straight. The
   * lanes keep each session's copies in planned order whichever path they take (delivery-lanes.ts).
   */
  fanOut(message: RoutedMessage, plans: PlannedDelivery[], out: Promise<void>[]): void {
    const { direct, chunks } = planFanout(plans, this.ports.fanoutThreshold);
    for (const plan of direct) out.push(this.send(plan, message, []));
    if (chunks.length === 0) return;
    const relayed = relayedMessage(message);
    for (const { slot, copies } of chunks) {
      const path = `relay ${slot}`;
      const now: RelayCopy[] = [];
      const tickets: LaneTicket[] = [];
      for (const copy of copies) {
        const ticket = this.lanes.enter(copy.session, path);
        if (!ticket) out.push(this.overflow([copy], message.topic));
        else if (ticket.after) {
          // Its session's earlier copies went another way: this one follows once they are accepted.
          out.push(
            ticket.after.then(() => {
              const accepted = this.toRelay(slot, relayed, [copy]);
              ticket.handed(accepted);
              return accepted;
            }),
          );
        } else {
          now.push(copy);
          tickets.push(ticket);
        }
      }
      if (now.length === 0) continue;
      const accepted = this.toRelay(slot, relayed, now);
      for (const ticket of tickets) ticket.handed(accepted);
      out.push(accepted);
    }
  }

  /** Queues one planned copy for its session; resolves once it (or a redelivery of it) has been accepted. */
  private send(plan: PlannedDelivery, message: RoutedMessage, tried: readonly string[]): Promise<void> {
    const outgoing: Outgoing = { delivery: deliveryFor(plan, message) };
    const share = sharedCopy(plan, message, tried);
    if (share) outgoing.share = share;
    const accepted = this.lanes.run(plan.session, DIRECT, () => {
      const offered = this.outboxFor(plan.session).offer(outgoing);
      return offered === FULL ? this.overflow([plan], message.topic) : offered;
    });
    return (accepted ?? this.overflow([plan], message.topic)).then(() => outgoing.redelivered);
  }

  /** The member picked for a shared copy no longer held the subscription: planSharedRedelivery picks another. */
  private redeliverShared(share: SharedCopy<RoutedMessage>): Promise<void> | undefined {
    const now = Date.now();
    const plan = planSharedRedelivery(share, this.ports.match, this.picker(now), now);
    if (!plan) return undefined;
    this.ports.invocations.messagesOut++;
    this.ports.counters.sent(share.message.payload.length);
    return this.send(plan, share.message, share.tried);
  }

  private outboxFor(session: string): CoalescingOutbox<Outgoing> {
    return this.outboxIn(this.outboxes, session, (batch) => this.deliverTo(session, batch), (outgoing) => messageBytes(outgoing.delivery));
  }

  /** The outbox of `key`, made at first use with the configured bounds; it leaves `outboxes` once idle. */
  private outboxIn<K, T>(outboxes: Map<K, CoalescingOutbox<T>>, key: K, send: (batch: T[]) => Promise<void>, size: (item: T) => number): CoalescingOutbox<T> {
    let outbox = outboxes.get(key);
    if (!outbox) {
      outbox = new CoalescingOutbox<T>(send, {
        ...this.ports.outboxBounds,
        size,
        onIdle: () => outboxes.delete(key),
        schedule: this.ports.schedule,
      });
      outboxes.set(key, outbox);
    }
    return outbox;
  }

  /**
   * One RPC per batch. The answer says whether the session is online (shared subscriptions prefer members
   * that are) and which filters it no longer holds: those are forgotten, and a shared copy among them goes to
   * another member. The redelivery is started here, not awaited: awaiting another session's outbox inside
   * this one's send could deadlock two outboxes on each other.
   *
   * A failed call fails the publish [DESIGN §3]: the copy may not be stored, so the publisher gets no
   * acknowledgement and resends. The runtime already retried what is safe to retry (a call that never
   * reached the object); repeating one that did could store a QoS 2 copy twice.
   */
  private async deliverTo(session: string, batch: Outgoing[]): Promise<void> {
    let answer: DeliverResult;
    this.ports.invocations.callsMade++;
    try {
      answer = await this.ports.deliverToSession(
        session,
        batch.map((outgoing) => outgoing.delivery),
      );
    } catch (error) {
      console.warn('delivery failed: the publish is not acknowledged', { session, messages: batch.length, error: String(error) });
      throw error;
    }
    const { stale, online } = answer;
    this.balancer.reportPresence(session, online !== false, Date.now());
    if (stale.length > 0) {
      this.ports.forget(session, stale);
      for (const outgoing of batch) {
        if (outgoing.share && stale.includes(outgoing.share.filter)) outgoing.redelivered = this.redeliverShared(outgoing.share);
      }
    }
  }

  /** Queues one chunk of a message for its relay; resolves once the relay has had every copy accepted. */
  private toRelay(slot: number, message: ApplicationMessage, copies: RelayCopy[]): Promise<void> {
    const outgoing: RelayOutgoing = { item: { message, copies } };
    const offered = this.relayOutboxFor(slot).offer(outgoing);
    if (offered === FULL) return this.overflow(copies, message.topic);
    return offered.then(() => {
      const answer = outgoing.answer;
      if (!answer?.ok) throw answer?.overloaded ? new OverloadedError(answer.error) : new Error(answer?.error ?? 'no answer from the relay');
    });
  }

  private relayOutboxFor(slot: number): CoalescingOutbox<RelayOutgoing> {
    return this.outboxIn(this.relayOutboxes, slot, (batch) => this.relayTo(slot, batch), (outgoing) => relayItemBytes(outgoing.item));
  }

  /**
   * One RPC per batch of chunks to relay `slot`, answered per chunk once its copies are accepted (or not: a
   * failed chunk fails its publish, exactly like a failed deliverTo). What the sessions answered is applied
   * as deliverTo does: presence, and stale filters forgotten (no shared copy travels through a relay).
   */
  private async relayTo(slot: number, batch: RelayOutgoing[]): Promise<void> {
    let answers: RelayAnswer[];
    this.ports.invocations.callsMade++;
    try {
      answers = await this.ports.deliverToRelay(
        slot,
        batch.map((outgoing) => outgoing.item),
      );
    } catch (error) {
      console.warn('relay failed: the publish is not acknowledged', { slot, messages: batch.length, error: String(error) });
      throw error;
    }
    const now = Date.now();
    batch.forEach((outgoing, index) => {
      const answer = answers[index];
      if (!answer) return;
      outgoing.answer = answer;
      if (!answer.ok) {
        console.warn('relayed copies failed: the publish is not acknowledged', { slot, topic: outgoing.item.message.topic, error: answer.error });
        return;
      }
      const listed = new Map(answer.sessions.map((entry) => [entry.session, entry]));
      for (const { session } of outgoing.item.copies) {
        const entry = listed.get(session);
        this.balancer.reportPresence(session, entry?.online ?? true, now);
        if (entry && entry.stale.length > 0) this.ports.forget(session, entry.stale);
      }
    });
  }

  /**
   * Copies a full outbox (or lane) did not take: QoS 0 ones are dropped and counted [MQTT-4.3.1]; QoS 1/2
   * ones are counted and fail their publish, so that no acknowledgement leaves (the session answers it).
   */
  private overflow(copies: readonly RelayCopy[], topic: string): Promise<void> {
    let refused = 0;
    for (const copy of copies) if (this.overload.shed(copy.qos)) refused++;
    if (refused === 0) return Promise.resolve();
    return Promise.reject(new OverloadedError(`${refused} copies of ${topic} refused by a full outbox`));
  }
}
