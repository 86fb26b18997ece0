// Drives the session state machine as its Durable Object does, with an in-memory store in place of SQLite:
// `persist` ops change the rows, `readQueue` is answered at once, time is whatever the test says it is.
// `restart()` rebuilds the state from the rows and attachments only, as a wake after eviction does.
import { expect } from 'vitest';
import type { ConnectPacket, Packet, Properties, ProtocolVersion } from '../../../core/codec/packets.js';
import type { Delivery, RetainedMessage } from '../../../core/routing/message.js';
import type { SubscribeOutcome, SubscriptionOptions } from '../../../core/routing/subscription.js';
import type { Effect, Reply, SessionCounter, StoreOp } from '../../../core/session/effects.js';
import { step, type Input } from '../../../core/session/machine.js';
import { SessionQueue } from '../../../core/session/queue.js';
import {
  OutboundState,
  TOPIC_ALIAS_MAXIMUM,
  emptySession,
  openingRecord,
  type ConnectionRecord,
  type OutboundMessage,
  type ReplayPlan,
  type SessionConfig,
  type SessionRecord,
  type State,
  type StoredSession,
  wakeState,
} from '../../../core/session/state.js';
import type { ConnectionToken } from '../../../core/tenancy/token.js';

export const CONFIG: SessionConfig = {
  maximumInflight: 100,
  receiveMaximum: 1024,
  maximumPacketSize: 1_048_576,
  maximumQueued: 1000,
  maximumQueuedOnline: 1000,
  maximumQueuedBytes: 16 * 1024 * 1024,
  maximumFiltersPerSubscribe: 100,
  maximumSubscriptions: 1000,
  topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
  shardCount: 4,
  platformLossGrace: 60,
};

export const TENANT = 'acme';
/** The epoch the tests start at (any fixed time: nothing reads the clock). */
export const T0 = 1_800_000_000_000;

/** The rows of one session object, as SessionStore keeps them in SQLite. */
export class MemoryStore {
  record: SessionRecord | undefined;
  subscriptions = new Map<string, SubscriptionOptions>();
  outbound = new Map<number, OutboundMessage>();
  /** QoS 2 ids → null once routed everywhere, or the key they were stored with before routing. */
  inboundQos2 = new Map<number, string | null>();
  inboundAliases = new Map<number, string>();
  counters = new Map<SessionCounter, number>();
  /** Retained replays still to read, by connection id (SessionStore's retained_replays). */
  replays = new Map<string, ReplayPlan[]>();
  /** Rows written, as SQLite would count them (one per op; deleteAll and drops count what they remove). */
  rowsWritten = 0;

  apply(ops: readonly StoreOp[]): void {
    for (const op of ops) {
      this.rowsWritten++;
      switch (op.op) {
        case 'writeSession':
          this.record = structuredClone(op.record);
          break;
        case 'deleteAll':
          this.record = undefined;
          this.subscriptions.clear();
          this.outbound.clear();
          this.inboundQos2.clear();
          this.inboundAliases.clear();
          this.replays.clear();
          break;
        case 'putSubscription':
          this.subscriptions.set(op.filter, { ...op.options });
          break;
        case 'deleteSubscription':
          this.subscriptions.delete(op.filter);
          break;
        case 'insertOutbound':
          if (this.outbound.has(op.message.seq)) throw new Error(`seq ${op.message.seq} inserted twice`);
          this.outbound.set(op.message.seq, { ...op.message });
          break;
        case 'markSent': {
          const row = this.outbound.get(op.seq)!;
          row.state = OutboundState.Published;
          row.packetId = op.packetId;
          break;
        }
        case 'markReleased':
          this.outbound.get(op.seq)!.state = OutboundState.Released;
          break;
        case 'deleteOutbound':
          this.outbound.delete(op.seq);
          break;
        case 'dropOldestQueued':
          for (const seq of this.queuedSeqs().slice(0, op.count)) this.outbound.delete(seq);
          break;
        case 'addPendingQos2':
          this.inboundQos2.set(op.packetId, op.key);
          break;
        case 'addInboundQos2':
          this.inboundQos2.set(op.packetId, null);
          break;
        case 'deleteInboundQos2':
          this.inboundQos2.delete(op.packetId);
          break;
        case 'putInboundAlias':
          this.inboundAliases.set(op.alias, op.topic);
          break;
        case 'clearInboundAliases':
          this.inboundAliases.clear();
          break;
        case 'saveReplay':
          if (op.replay === null) this.replays.delete(op.connectionId);
          else this.replays.set(op.connectionId, structuredClone(op.replay));
          break;
        case 'count':
          this.counters.set(op.counter, (this.counters.get(op.counter) ?? 0) + op.n);
          break;
      }
    }
  }

  readQueued(limit: number, afterSeq: number): OutboundMessage[] {
    return this.queuedSeqs()
      .filter((seq) => seq > afterSeq)
      .slice(0, limit)
      .map((seq) => ({ ...this.outbound.get(seq)! }));
  }

  /** What SessionStore.load() builds on wake. */
  load(): StoredSession {
    if (!this.record) return emptySession();
    const inflight = new Map<number, OutboundMessage>();
    let lastPacketId = 0;
    for (const row of [...this.outbound.values()].filter((m) => m.state !== OutboundState.Queued).sort((a, b) => a.seq - b.seq)) {
      inflight.set(row.packetId!, { ...row });
      lastPacketId = row.packetId!;
    }
    return {
      record: structuredClone(this.record),
      subscriptions: new Map([...this.subscriptions].map(([filter, options]) => [filter, { ...options }])),
      inflight,
      queue: new SessionQueue(this.queued().map((m) => m.payload.length)),
      inboundQos2: new Set([...this.inboundQos2].filter(([, key]) => key === null).map(([id]) => id)),
      pendingQos2: new Map([...this.inboundQos2].filter((entry): entry is [number, string] => entry[1] !== null)),
      exactlyOnceKeys: new Set([...this.outbound.values()].flatMap((m) => (m.exactlyOnceKey === undefined ? [] : [m.exactlyOnceKey]))),
      inboundAliases: new Map(this.inboundAliases),
      nextSeq: Math.max(0, ...this.outbound.keys()) + 1,
      lastPacketId,
    };
  }

  /** What SessionStore.loadReplays() returns on wake: the rows of open connections; the others are deleted. */
  loadReplays(open: ReadonlySet<string>): Map<string, ReplayPlan[]> {
    for (const connectionId of this.replays.keys()) if (!open.has(connectionId)) this.replays.delete(connectionId);
    return structuredClone(this.replays);
  }

  /** Queued messages in queue order. */
  queued(): OutboundMessage[] {
    return this.queuedSeqs().map((seq) => this.outbound.get(seq)!);
  }

  private queuedSeqs(): number[] {
    return [...this.outbound.values()]
      .filter((m) => m.state === OutboundState.Queued)
      .map((m) => m.seq)
      .sort((a, b) => a - b);
  }
}

export interface OpenOptions {
  clientId?: string;
  /** null = anonymous (the default). */
  token?: ConnectionToken | null;
  clientIdAssigned?: boolean;
  serverKeepAlive?: number;
}

/** One session object: its state, its store, the effects of the last input, and the time. */
export class SessionHarness {
  state: State = wakeState(emptySession(), []);
  readonly store = new MemoryStore();
  now = T0;
  /** Effects of the last input, answers to readQueue included, in the order they were applied. */
  effects: Effect[] = [];
  /** Every effect since the harness was made. */
  readonly history: Effect[] = [];
  reply: Reply | undefined;
  /** The attachments as the adapter last saved them. */
  private readonly attachments = new Map<string, ConnectionRecord>();

  constructor(readonly config: SessionConfig = CONFIG) {}

  /** Runs one input the way SessionDO does: step, persist, answer readQueue at once. */
  input(input: Input): Effect[] {
    this.effects = [];
    this.reply = undefined;
    this.run(input);
    return this.effects;
  }

  open(connectionId = 'c1', options: OpenOptions = {}): void {
    const record = openingRecord(connectionId, TENANT, options.clientId ?? 'device-1', options.clientIdAssigned ?? false, options.serverKeepAlive);
    this.attachments.set(connectionId, record);
    this.input({ type: 'opened', connection: record, token: options.token === undefined ? null : options.token });
  }

  packet(connectionId: string, packet: Packet): Effect[] {
    return this.input({ type: 'packet', connectionId, packet });
  }

  /** Opens a connection and sends its CONNECT; returns the effects of the CONNECT. */
  connect(connectionId = 'c1', connect: Partial<ConnectPacket> = {}, options: OpenOptions = {}): Effect[] {
    this.open(connectionId, options);
    return this.packet(connectionId, connectPacket(connect, options.clientId));
  }

  deliver(...deliveries: Delivery[]): Effect[] {
    return this.input({ type: 'deliver', deliveries });
  }

  /**
   * Answers the last SUBSCRIBE's shard call (or retained replay round): no retained messages unless given,
   * as `retained` (one last page from shard 0) or as `pages`.
   */
  subscribed(results: Record<string, Partial<SubscribeOutcome> & { retained?: RetainedMessage[] }> = {}, ok = true): Effect[] {
    const request = [...this.history].reverse().find((e): e is Extract<Effect, { type: 'subscribeShards' }> => e.type === 'subscribeShards');
    if (!request) throw new Error('no subscribeShards effect to answer');
    const merged = new Map<string, SubscribeOutcome>();
    for (const { filter } of request.subscriptions) {
      const { retained, ...outcome } = results[filter] ?? {};
      merged.set(filter, { isNew: true, pages: retained ? [{ shard: 0, retained }] : [], ...outcome });
    }
    return this.input({ type: 'subscribed', connectionId: request.connectionId, then: request.then, results: ok ? merged : undefined });
  }

  /** Settles a route the session waits on (`route` effects with an ack), by its index among them. */
  routed(route: Extract<Effect, { type: 'route' }>, ok = true, overloaded = false): Effect[] {
    if (!route.ack) throw new Error('this route has no ack');
    return this.input({ type: 'routed', ack: route.ack, ok, ...(overloaded ? { overloaded } : {}) });
  }

  /**
   * Eviction and wake: only the store's rows and the sockets' attachments survive. `lost`: sockets a reset
   * dropped without a close event, whose attachments are gone too.
   */
  restart(lost: readonly string[] = []): void {
    const records = [...this.attachments]
      .filter(([id]) => this.state.connections.has(id) && !lost.includes(id))
      .map(([, record]) => structuredClone(record));
    const replays = this.store.loadReplays(new Set(records.map((record) => record.id)));
    this.state = wakeState(this.store.load(), records, replays);
  }

  advance(ms: number): void {
    this.now += ms;
  }

  /** Packets sent to one connection by the last input. */
  sent(connectionId = 'c1'): Packet[] {
    return this.effects.flatMap((e) => (e.type === 'send' && e.connectionId === connectionId ? e.packets : []));
  }

  /** Effects of one type from the last input. */
  of<T extends Effect['type']>(type: T): Array<Extract<Effect, { type: T }>> {
    return this.effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
  }

  closed(connectionId = 'c1'): boolean {
    return this.effects.some((e) => e.type === 'close' && e.connectionId === connectionId);
  }

  private run(input: Input): void {
    const { effects, reply } = step(this.state, input, this.now, this.config);
    if (reply !== undefined) this.reply = reply;
    for (const effect of effects) {
      this.effects.push(effect);
      this.history.push(effect);
      if (effect.type === 'persist') this.store.apply(effect.ops);
      if (effect.type === 'saveConnection') this.attachments.set(effect.connection.id, structuredClone(effect.connection));
      if (effect.type === 'readQueue') this.run({ type: 'queueRead', messages: this.store.readQueued(effect.limit, effect.afterSeq) });
    }
  }
}

export function connectPacket(overrides: Partial<ConnectPacket> = {}, clientId = 'device-1'): ConnectPacket {
  return { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, cleanSession: true, keepAlive: 30, clientId, ...overrides };
}

/** A delivery as a shard sends it: one filter matched, unless given. */
export function delivery(topic: string, payload: string, qos: 0 | 1 | 2, extra: Partial<Delivery> = {}): Delivery {
  return { topic, payload: new TextEncoder().encode(payload), qos, retain: false, filters: [topic], ...extra };
}

export function token(acl: ConnectionToken['acl'], limits: ConnectionToken['limits'] = {}, id = 'tok1'): ConnectionToken {
  return { id, acl, limits };
}

export function text(payload: Uint8Array): string {
  return new TextDecoder().decode(payload);
}

export type { Properties, ProtocolVersion };

/**
 * A DISCONNECT the server sends: its reason code, and a Reason String (server-disconnect.ts) whose words a
 * test names only when they carry information, such as the publish rate.
 */
export function serverDisconnectWith(reasonCode: number, reasonString: unknown = expect.any(String)): Packet {
  return { type: 'disconnect', reasonCode, properties: { reasonString: reasonString as string } };
}
