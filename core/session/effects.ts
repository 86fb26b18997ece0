// What the session state machine asks its adapter to do: one typed Effect union, collected per step.
//
// A step's effects are applied in order, with three rules the collector enforces:
//   - every `persist` op of the step comes first, as one effect: rows are written before anything leaves
//     (the Durable Object output gate then holds outgoing messages until the write is confirmed);
//   - the packets of one step for one connection travel as one `send` (several MQTT packets in one
//     WebSocket message: legal, and one billed message instead of many);
//   - `setAlarm` and `presence` state a whole value: only the step's last one is kept.
// Effects that need an answer (subscribeShards, readQueue, an acked route) get it back as a new input.
import type { Packet, QoS } from '../codec/packets.js';
import type { RoutedMessage } from '../routing/message.js';
import type { DeliverResult, ShardSubscription, SubscriptionOptions } from '../routing/subscription.js';
import type { LogEvent } from '../tenancy/event-log.js';
import type { ConnectionRecord, OutboundMessage, ReplayPlan, SessionRecord } from './state.js';

/** What the tenant object is told of this session (its sessions list, connection counts, revocation). */
export type PresenceState = 'connected' | 'offline' | 'ended';

/** What the sessions list shows of a session without waking it: its presence bucket keeps these. */
export interface PresenceDetails {
  protocolVersion?: number;
  /** The keepalive the connection runs with (5.0: the Server Keep Alive when one was set). */
  keepAlive?: number;
  sessionExpiryInterval?: number;
  /** While offline: when the session expires; null = never. */
  expiresAt?: number | null;
}

/** Events the session counts in its own storage (limits hit, messages dropped). */
export type SessionCounter =
  /** Queued messages dropped by the count bound (MAX_QUEUED, a token's maxQueued), oldest first. */
  | 'queue_dropped'
  /** Queued messages dropped by the byte bound (MAX_QUEUED_BYTES), oldest first. */
  | 'queue_dropped_bytes'
  | 'oversize_dropped'
  /** Messages the session's token may not read (any more): not queued, not sent [DESIGN §3]. */
  | 'acl_dropped'
  /** QoS 2 messages routed here again after a publisher's crash and already held: not stored twice. */
  | 'qos2_duplicate'
  /** QoS 1 publishes a full outbox or shard refused (5.0: PUBACK 0x97; 3.1.1: the connection closes unacknowledged). */
  | 'publish_overloaded'
  /** QoS 0 publishes dropped because the outbox to their shard was full. */
  | 'publish_dropped'
  | 'limit_message_size'
  | 'limit_publish_rate'
  /** Filters refused by the subscription bound (MAX_SUBSCRIPTIONS, a token's maxSubscriptions). */
  | 'limit_subscriptions'
  /** Filters refused past MAX_FILTERS_PER_SUBSCRIBE in one SUBSCRIBE. */
  | 'limit_filters_per_subscribe'
  /** Retained replays cut short because a round's shards could not be reached. */
  | 'retained_replay_failed'
  | 'will_refused';

/** One change to the session's SQLite rows. */
export type StoreOp =
  | { op: 'writeSession'; record: SessionRecord }
  /** Forget everything (retained replays too): a clean session ends with its connection [MQTT-3.1.2-6]. */
  | { op: 'deleteAll' }
  | { op: 'putSubscription'; filter: string; options: SubscriptionOptions }
  | { op: 'deleteSubscription'; filter: string }
  | { op: 'insertOutbound'; message: OutboundMessage }
  | { op: 'markSent'; seq: number; packetId: number }
  | { op: 'markReleased'; seq: number }
  | { op: 'deleteOutbound'; seq: number }
  /** Drop the `count` oldest queued messages (the queue's bounds: the reducer knows their sizes, see queue.ts). */
  | { op: 'dropOldestQueued'; count: number }
  /** A QoS 2 id received, before its routing starts, with its message's exactly-once key. */
  | { op: 'addPendingQos2'; packetId: number; key: string }
  /** A QoS 2 id routed everywhere (or refused, 3.1.1): PUBREC may leave; kept until PUBREL. */
  | { op: 'addInboundQos2'; packetId: number }
  | { op: 'deleteInboundQos2'; packetId: number }
  | { op: 'putInboundAlias'; alias: number; topic: string }
  | { op: 'clearInboundAliases' }
  /**
   * A connection's retained replay still to read, in SUBSCRIBE order (retained-replay.ts), replacing the one
   * stored: written once per round, not per message; null deletes it (the replay or the connection ended).
   */
  | { op: 'saveReplay'; connectionId: string; replay: ReplayPlan[] | null }
  | { op: 'count'; counter: SessionCounter; n: number };

/** Names a route an acknowledgement waits for; echoed back in the `routed` input. */
export interface RouteAck {
  connectionId: string;
  routeId: number;
  /** The session's epoch when the route started (see Routes). */
  epoch: number;
  /** An inbound QoS 2 packet id: stored once routing succeeded, forgotten if it failed. */
  inboundQos2?: number;
}

/**
 * What a SUBSCRIBE still has to do once its shards answered: SUBACK, then retained messages. A further round
 * of a retained replay (`replayRound` set) reuses it: no SUBACK, only the next pages.
 */
export interface SubscribeContinuation {
  packetId: number;
  reasonCodes: number[];
  /** Per granted filter, what Retain Handling asks for (3.1.1: always 0). */
  retained: Array<{ filter: string; qos: QoS; retainHandling: 0 | 1 | 2; subscriptionIdentifier?: number }>;
  /** Filters this SUBSCRIBE added (not re-subscriptions): forgotten again if the shards fail. */
  added: string[];
  /** The session's epoch (see Routes): a session discarded meanwhile is not touched. */
  epoch: number;
  /** Set for a round of a retained replay: its id (RetainedReplay.reading). */
  replayRound?: number;
}

export type Effect =
  | { type: 'persist'; ops: StoreOp[] }
  | { type: 'send'; connectionId: string; packets: Packet[] }
  /** Close the socket (after what was sent to it). */
  | { type: 'close'; connectionId: string }
  /** Save the connection's attachment (its phase or protocol settings changed). */
  | { type: 'saveConnection'; connection: ConnectionRecord }
  /** The object's one alarm: the earliest timer, or none. */
  | { type: 'setAlarm'; at: number | null }
  /** Publish through the message's shard; with `ack`, the outcome comes back as a `routed` input. */
  | { type: 'route'; tenant: string; message: RoutedMessage; ack?: RouteAck }
  /** Register subscriptions with their shards; the answers come back as a `subscribed` input. */
  | { type: 'subscribeShards'; tenant: string; session: string; connectionId: string; subscriptions: ShardSubscription[]; then: SubscribeContinuation }
  /** Forget subscriptions in their shards; ordered after earlier (un)subscribes to the same shard. */
  | { type: 'unsubscribeShards'; tenant: string; session: string; filters: string[] }
  /** Read up to `limit` queued messages after `afterSeq`; they come back as a `queueRead` input. */
  | { type: 'readQueue'; afterSeq: number; limit: number }
  | { type: 'presence'; tenant: string; clientId: string; state: PresenceState; tokenId?: string; countsConnections?: boolean; details?: PresenceDetails }
  /** Someone subscribed to $SYS: the tenant publishes its statistics while anyone receives them. */
  | { type: 'wantSys'; tenant: string }
  /** An entry for the tenant's event log (connect, disconnect, kick): written after the step, not waited for. */
  | { type: 'log'; tenant: string; event: LogEvent };

/** What an RPC entry point answers (deliver, kick). */
export type Reply = DeliverResult | { kicked: boolean };

/** Collects one step's effects (see the rules at the top of this file). */
export class Effects {
  private readonly ops: StoreOp[] = [];
  private readonly list: Effect[] = [];
  /** The open `send` of each connection in this step. */
  private readonly sends = new Map<string, Packet[]>();
  reply: Reply | undefined;

  persist(op: StoreOp): void {
    this.ops.push(op);
  }

  send(connectionId: string, packet: Packet): void {
    let packets = this.sends.get(connectionId);
    if (!packets) {
      packets = [];
      this.sends.set(connectionId, packets);
      this.list.push({ type: 'send', connectionId, packets });
    }
    packets.push(packet);
  }

  /** The counters this step's `persist` ops add to (limits hit, messages dropped). */
  counted(): Array<{ counter: SessionCounter; n: number }> {
    return this.ops.flatMap((op) => (op.op === 'count' ? [{ counter: op.counter, n: op.n }] : []));
  }

  /** Ends the connection's current `send`: what follows goes in a WebSocket message of its own. */
  flush(connectionId: string): void {
    this.sends.delete(connectionId);
  }

  close(connectionId: string): void {
    this.sends.delete(connectionId);
    this.list.push({ type: 'close', connectionId });
  }

  emit(effect: Exclude<Effect, { type: 'persist' | 'send' | 'close' }>): void {
    if (effect.type === 'presence' || effect.type === 'setAlarm') {
      // These state a whole value: only a step's last one counts (a take-over reports offline, then
      // connected; a clean start clears the alarm, then CONNECT clears it again).
      const earlier = this.list.findIndex((e) => e.type === effect.type);
      if (earlier >= 0) this.list.splice(earlier, 1);
    }
    this.list.push(effect);
  }

  /** The step's effects in the order they are to be applied. */
  finish(): Effect[] {
    return this.ops.length > 0 ? [{ type: 'persist', ops: this.ops }, ...this.list] : this.list;
  }
}
