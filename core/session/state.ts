// The session state machine's state: the stored session (mirrors SQLite) and the connections of this object.
//
// Directions, as in EMQX emqx_session_mem: "in" = from the client, "out" = to the client. Where a field lives:
//   StoredSession      SQLite, loaded on wake, kept in step by `persist` effects
//   ConnectionRecord   the socket attachment: ids and scalars only, survives hibernation
//   RetainedReplay     its cursors: SQLite, one row per replaying connection (`saveReplay`), restored on wake
//   Connection (rest)  memory only: lost on hibernation, which each field says is safe
import type { ProtocolVersion, QoS, Will } from '../codec/packets.js';
import type { ApplicationMessage } from '../routing/message.js';
import type { ReplayCursor, SubscriptionOptions } from '../routing/subscription.js';
import type { ConnectionToken } from '../tenancy/token.js';
import type { RateBucket } from '../tenancy/limits.js';
import type { OutboundTopicAliases } from './topic-alias.js';
import { SessionQueue } from './queue.js';

/** Deployment settings the session obeys (wrangler.toml [vars], parsed by the adapter). */
export interface SessionConfig {
  /** Outbound QoS 1/2 messages unacknowledged at once (MAX_INFLIGHT), before the client's Receive Maximum. */
  maximumInflight: number;
  /** 5.0 Receive Maximum we announce and enforce for the client's unacknowledged QoS 1/2 publishes. */
  receiveMaximum: number;
  /** Largest packet we accept, announced to 5.0 clients. */
  maximumPacketSize: number;
  /** Messages queued per session (MAX_QUEUED); a token may set a lower bound. */
  maximumQueued: number;
  /** Messages queued while the session's client is connected (MAX_QUEUED_ONLINE): generous, the byte bound binds. */
  maximumQueuedOnline: number;
  /** Payload bytes queued per session (MAX_QUEUED_BYTES): past it the oldest are dropped, as past the count. */
  maximumQueuedBytes: number;
  /** Filters one SUBSCRIBE may carry (MAX_FILTERS_PER_SUBSCRIBE): the rest are refused with 0x97 / 0x80. */
  maximumFiltersPerSubscribe: number;
  /** Subscriptions one session may hold (MAX_SUBSCRIPTIONS); a token may set a lower bound. */
  maximumSubscriptions: number;
  /** Topic aliases a 5.0 client may define towards us (announced in CONNACK). */
  topicAliasMaximum: number;
  /** Topic shards per tenant: the retained limit is enforced per shard as its share. */
  shardCount: number;
  /**
   * Seconds a will waits after the platform, not the client, lost its connection (WILL_GRACE_AFTER_RESTART):
   * a deploy or runtime update drops every socket at once, and the clients that reconnect within it cancel
   * their wills (lifecycle.ts).
   */
  platformLossGrace: number;
}

/** The default of `platformLossGrace`, seconds. */
export const PLATFORM_LOSS_GRACE = 60;

/** Topic aliases a client may define towards us. */
export const TOPIC_ALIAS_MAXIMUM = 32;
/** Largest Receive Maximum a 5.0 client may announce; also 3.1.1's (it has no limit of its own). */
export const UNLIMITED_RECEIVE = 65535;

/** The session row: who the session belongs to and which connection currently owns it. */
export interface SessionRecord {
  tenant: string;
  clientId: string;
  protocolVersion: number;
  /** Seconds the session outlives its connection: 0 ends it with the connection, NEVER_EXPIRES keeps it. */
  sessionExpiryInterval: number;
  /** Id of the connection that owns the session; null while offline. */
  connectionId: string | null;
  /** Stored at CONNECT [MQTT-3.1.2-8]; kept while offline only when its publication is delayed. */
  will: Will | null;
  /** While offline: when the session expires (ms since the epoch); null = never or online. */
  expiresAt: number | null;
  /** A delayed will waiting to be published at this time (5.0 Will Delay Interval); null = none. */
  willAt: number | null;
  /** The token of the connection that owns (or last owned) the session; null = anonymous (full access). */
  token: ConnectionToken | null;
}

/** Queued (out, not yet sent), Published (out, awaiting PUBACK/PUBREC), Released (PUBREL sent, awaiting PUBCOMP). */
export const OutboundState = { Queued: 0, Published: 1, Released: 2 } as const;
export type OutboundState = (typeof OutboundState)[keyof typeof OutboundState];

/** An outbound QoS 1/2 message as stored: Subscription Identifiers travel inside its properties. */
export interface OutboundMessage extends ApplicationMessage {
  /** Storage order: queue and resend order. Monotonic, never reused (see the store). */
  seq: number;
  /** Assigned when the message enters the inflight window; null while queued. */
  packetId: number | null;
  state: OutboundState;
}

/** The MQTT session as stored: everything a reconnecting client resumes [MQTT-4.1.0-1]. */
export interface StoredSession {
  record: SessionRecord | undefined;
  /** in: filters the client subscribed, with their granted options. */
  subscriptions: Map<string, SubscriptionOptions>;
  /** out: QoS 1/2 messages sent and not completed, by packet id (the inflight window). */
  inflight: Map<number, OutboundMessage>;
  /** out: messages waiting for the window; their rows stay in SQLite, only their sizes and the cursor are here. */
  queue: SessionQueue;
  /** in: QoS 2 packet ids routed and not yet released by PUBREL [MQTT-4.3.3-2]. */
  inboundQos2: Set<number>;
  /**
   * in: QoS 2 packet ids received and stored but not yet routed everywhere → the message's exactly-once key.
   * Stored before routing starts, so that a resend after a crash is routed again under the same key.
   */
  pendingQos2: Map<number, string>;
  /** out: exactly-once keys of QoS 2 messages this session holds or recently completed (bounded). */
  exactlyOnceKeys: Set<string>;
  /** in: topic aliases the current connection defined [MQTT-3.3.2-7 v5]. */
  inboundAliases: Map<number, string>;
  /** seq for the next stored outbound message. */
  nextSeq: number;
  /** out: the last packet id assigned; the next search starts after it. */
  lastPacketId: number;
}

/** One explicit phase per connection; the protocol gate runs on it (core/session/connection-state.ts). */
export type ConnectionPhase = 'awaitingConnect' | 'connected' | 'closed';

/** What survives hibernation of a connection: the socket attachment (ids and scalars, well under 2 KiB). */
export interface ConnectionRecord {
  id: string;
  tenant: string;
  clientId: string;
  /** True when the Worker assigned the client id (5.0: sent back as Assigned Client Identifier). */
  clientIdAssigned: boolean;
  /** 5.0 Server Keep Alive when the Worker enforces another keepalive than the client asked for. */
  serverKeepAlive?: number;
  phase: ConnectionPhase;
  protocolVersion: ProtocolVersion;
  /** The client's Receive Maximum: our outbound window is the smaller of this and maximumInflight. */
  receiveMaximum: number;
  /** The client's Maximum Packet Size: we never send it a larger packet [MQTT-3.1.2-24 v5]. */
  maximumPacketSize?: number;
  /** The client's Topic Alias Maximum for packets we send it. */
  topicAliasMaximum: number;
  /**
   * Set while a resume resends the inflight window in steps: inflight messages from this seq on are still to
   * be sent on this connection, as the client's (lower) Receive Maximum gives room [MQTT-3.3.4-9 v5].
   */
  resendFromSeq?: number;
}

/** An acknowledgement waiting for its turn: acks leave in the order their packets arrived [MQTT-4.6.0-2]. */
export interface PendingAck {
  packet: { type: 'puback' | 'pubrec' | 'pubcomp'; packetId: number; reasonCode?: number };
  /** Set while the message is being routed: the ack waits for every subscriber's copy to be stored. */
  routeId?: number;
}

/** A live relay socket of this session object. */
export interface Connection extends ConnectionRecord {
  /**
   * The token the Worker authenticated this connection with, until CONNECT stores it in the session record.
   * null = anonymous; undefined = lost (the object restarted between the upgrade and CONNECT): refused.
   */
  offeredToken: ConnectionToken | null | undefined;
  /**
   * in: QoS 1/2 publishes not yet acknowledged (our 5.0 Receive Maximum): QoS 1 until PUBACK, QoS 2 until
   * PUBCOMP or an error PUBREC [MQTT-3.3.4-7 v5]. Memory only: routing in flight keeps the object awake.
   */
  inboundUnacknowledged: number;
  /** in: QoS 2 packet ids counted in inboundUnacknowledged on this connection (released at PUBCOMP). */
  countedQos2: Set<number>;
  /** in: acknowledgements in arrival order, each sent once it and every earlier one is ready. */
  pendingAcks: PendingAck[];
  /** out: our topic aliases; lost on hibernation, which is safe: the next send defines the alias again. */
  outboundAliases: OutboundTopicAliases | undefined;
  /** in: the token's publish rate (a wake starts with a full bucket). */
  publishBucket: RateBucket | undefined;
  /**
   * out: retained messages of this connection's SUBSCRIBEs still in the shards, read round by round as the
   * queue empties (retained-replay.ts). Defined only while a row holds it (`saveReplay`): restored on wake.
   */
  replay: RetainedReplay | undefined;
}

/** One filter's retained messages still in the shards: what its SUBSCRIBE granted, and where each shard is. */
export interface ReplayPlan {
  filter: string;
  /** The granted QoS (each message goes at the lower of its own and this [MQTT-3.8.4-6]). */
  qos: QoS;
  subscriptionIdentifier?: number;
  cursors: ReplayCursor[];
}

/** A connection's retained replay in progress. Its row holds `pending` only: a round in flight is memory. */
export interface RetainedReplay {
  /** Filters with retained messages still to read, in SUBSCRIBE order; never empty (the replay ends instead). */
  pending: Map<string, ReplayPlan>;
  /**
   * The round being read (its id, from Routes.next); its answer is ignored when this changed meanwhile (a
   * SUBSCRIBE replaced a filter, or the replay ended).
   */
  reading: number | undefined;
  /**
   * Read back from its row on wake, and no input has run since: a round in flight when the object went away
   * died with its answer, so the first input reads it again (resumeReplay).
   */
  restored: boolean;
}

/**
 * Routes whose outcome an acknowledgement waits for. Memory only: routing in flight keeps the object awake,
 * and a route that dies with the object was never acknowledged.
 */
export interface Routes {
  /** The next route id (never reused within this object's life); retained replay rounds take theirs here too. */
  next: number;
  /** Bumped when the session is discarded: a late outcome of the old session's route changes nothing. */
  epoch: number;
  /** in: QoS 2 packet ids whose first copy is still being routed → that route's id. */
  inboundQos2: Map<number, number>;
}

/** The whole state of one session object. The reducers update it in place and return effects. */
export interface State {
  session: StoredSession;
  /** The relay sockets of this object by connection id: the owner, and others being taken over or refused. */
  connections: Map<string, Connection>;
  routes: Routes;
}

/**
 * The state of a session object as it wakes: the stored session, the connections of its sockets, and the
 * stored retained replays by connection id (SUBSCRIBE order). Only the owner's replay is restored: a replay
 * ends with its connection, so no other can have a row.
 */
export function wakeState(session: StoredSession, connections: Iterable<ConnectionRecord>, replays: ReadonlyMap<string, readonly ReplayPlan[]> = new Map()): State {
  const state: State = {
    session,
    connections: new Map([...connections].map((record) => [record.id, connectionFrom(record)])),
    routes: { next: 1, epoch: 0, inboundQos2: new Map() },
  };
  const owner = ownerOf(state);
  const plans = owner ? replays.get(owner.id) : undefined;
  if (owner && plans && plans.length > 0) {
    owner.replay = { pending: new Map(plans.map((plan) => [plan.filter, plan])), reading: undefined, restored: true };
  }
  return state;
}

export function emptySession(): StoredSession {
  return {
    record: undefined,
    subscriptions: new Map(),
    inflight: new Map(),
    queue: new SessionQueue(),
    inboundQos2: new Set(),
    pendingQos2: new Map(),
    exactlyOnceKeys: new Set(),
    inboundAliases: new Map(),
    nextSeq: 1,
    lastPacketId: 0,
  };
}

/** A connection as the Worker opened it, before CONNECT: 3.1.1 until its CONNECT says otherwise. */
export function openingRecord(id: string, tenant: string, clientId: string, clientIdAssigned: boolean, serverKeepAlive?: number): ConnectionRecord {
  return {
    id,
    tenant,
    clientId,
    clientIdAssigned,
    ...(serverKeepAlive === undefined ? {} : { serverKeepAlive }),
    phase: 'awaitingConnect',
    protocolVersion: 4,
    receiveMaximum: UNLIMITED_RECEIVE,
    topicAliasMaximum: 0,
  };
}

/** A connection with its memory-only parts fresh: on open, or restored from its record after a wake. */
export function connectionFrom(record: ConnectionRecord, offeredToken?: ConnectionToken | null): Connection {
  return {
    ...record,
    offeredToken,
    inboundUnacknowledged: 0,
    countedQos2: new Set(),
    pendingAcks: [],
    outboundAliases: undefined,
    publishBucket: undefined,
    replay: undefined,
  };
}

/** The attachment part of a connection. */
export function recordOf(connection: Connection): ConnectionRecord {
  const { id, tenant, clientId, clientIdAssigned, serverKeepAlive, phase, protocolVersion, receiveMaximum, maximumPacketSize, topicAliasMaximum, resendFromSeq } = connection;
  return {
    id,
    tenant,
    clientId,
    clientIdAssigned,
    ...(serverKeepAlive === undefined ? {} : { serverKeepAlive }),
    phase,
    protocolVersion,
    receiveMaximum,
    ...(maximumPacketSize === undefined ? {} : { maximumPacketSize }),
    topicAliasMaximum,
    ...(resendFromSeq === undefined ? {} : { resendFromSeq }),
  };
}

/** The connection that owns the session, while it is connected. */
export function ownerOf(state: State): Connection | undefined {
  const id = state.session.record?.connectionId;
  if (!id) return undefined;
  const connection = state.connections.get(id);
  return connection?.phase === 'connected' ? connection : undefined;
}
