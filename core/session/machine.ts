// The session state machine: one input in, the state updated and the effects out (model: rumqttc state.rs,
// EMQX emqx_channel:handle_in). Time comes in as `now`; ids are assigned by the adapter; nothing here
// performs I/O.
//
//   input                           handled by
//   opened / socketClosed / fault   this file, lifecycle.ts (which ending publishes the will: WillFate)
//   internalError / keepaliveTimeout
//   packet                          the protocol gate, then connect.ts, publish.ts, subscribe.ts, outbound.ts
//   routed                          publish.ts (acknowledgements)
//   subscribed                      subscribe.ts (SUBACK and retained messages)
//   queueRead / deliver             outbound.ts
//   alarm                           lifecycle.ts
//   tokenChanged                    token-change.ts
//   kick                            lifecycle.ts
//   (the first input after a wake)  retained-replay.ts: a restored replay goes on
import { assertNever, type Packet } from '../codec/packets.js';
import { ReasonCode, type ReasonCodeValue } from '../reason-codes.js';
import type { Delivery } from '../routing/message.js';
import type { SubscribeOutcome } from '../routing/subscription.js';
import type { ConnectionToken } from '../tenancy/token.js';
import { onConnect } from './connect.js';
import { gateClientPacket } from './connection-state.js';
import { Effects, type Effect, type Reply, type RouteAck, type SubscribeContinuation } from './effects.js';
import { endConnection, onAlarm, recoverLostOwner } from './lifecycle.js';
import { deliver, onPuback, onPubcomp, onPubrec, onQueueRead, queueRoom } from './outbound.js';
import { onPublish, onPubrel, onRouted } from './publish.js';
import { limitEvent } from './log-events.js';
import { resumeReplay } from './retained-replay.js';
import { connectionFrom, ownerOf, type Connection, type ConnectionRecord, type OutboundMessage, type SessionConfig, type SessionRecord, type State } from './state.js';
import { onSubscribe, onSubscribed, onUnsubscribe } from './subscribe.js';
import { onTokenChanged, type TokenUpdate } from './token-change.js';

/** Who lost a connection whose socket closed: the client, or the platform (lifecycle.ts WillFate). */
export type ConnectionLoss = 'client' | 'platform';

export type Input =
  /** The Worker opened a relay socket; its CONNECT follows. `token` null = anonymous. */
  | { type: 'opened'; connection: ConnectionRecord; token: ConnectionToken | null }
  | { type: 'packet'; connectionId: string; packet: Packet }
  /** A packet that could not be decoded: the client's protocol violation, the connection ends with the reason. */
  | { type: 'fault'; connectionId: string; reasonCode: ReasonCodeValue }
  /** The adapter failed on a packet (a bug, a storage failure): ours, not the client's. Ends without the will. */
  | { type: 'internalError'; connectionId: string }
  /** The Worker saw no packet for 1.5 × the keepalive [MQTT-3.1.2-24]. */
  | { type: 'keepaliveTimeout'; connectionId: string }
  /**
   * The relay socket closed. `cause` 'client' (the default): the relay closed it because its client went;
   * 'platform': the platform dropped the relay (a runtime update), and the client may well come back.
   */
  | { type: 'socketClosed'; connectionId: string; cause?: ConnectionLoss }
  | { type: 'routed'; ack: RouteAck; ok: boolean; overloaded?: boolean }
  /** The shards' answers to a SUBSCRIBE, merged per filter; undefined when they failed. */
  | { type: 'subscribed'; connectionId: string; then: SubscribeContinuation; results: ReadonlyMap<string, SubscribeOutcome> | undefined }
  | { type: 'queueRead'; messages: readonly OutboundMessage[] }
  /** Messages a shard matched to this session's subscriptions. */
  | { type: 'deliver'; deliveries: readonly Delivery[] }
  | { type: 'alarm' }
  | { type: 'tokenChanged'; tokenId: string; token: TokenUpdate | null }
  /** An administrator disconnects the client (5.0: 0x98); the will is published. */
  | { type: 'kick' };

export interface StepResult {
  state: State;
  effects: Effect[];
  /** The answer of an RPC input (deliver, kick). */
  reply?: Reply;
}

/** Applies one input. The state is updated in place (one copy, owned by the adapter) and returned. */
export function step(state: State, input: Input, now: number, config: SessionConfig): StepResult {
  const out = new Effects();
  // A step that ends the session forgets its record: its limit hits are still logged under its name.
  const recordBefore = state.session.record;
  switch (input.type) {
    case 'opened':
      state.connections.set(input.connection.id, connectionFrom(input.connection, input.token));
      break;
    case 'packet': {
      const connection = state.connections.get(input.connectionId);
      if (connection) onPacket(state, connection, input.packet, now, config, out);
      break;
    }
    case 'fault':
    case 'keepaliveTimeout': {
      const connection = state.connections.get(input.connectionId);
      const reasonCode = input.type === 'fault' ? input.reasonCode : ReasonCode.KeepAliveTimeout;
      // [MQTT-4.8.0-1] a protocol violation closes the connection; the will is published.
      if (connection) endConnection(state, connection, { will: 'publish', reasonCode }, now, config, out);
      break;
    }
    case 'internalError': {
      // (5.0 §3.1.2.5) a failure on our side is no news of the client: it is told 0x80 and reconnects.
      const connection = state.connections.get(input.connectionId);
      if (connection) endConnection(state, connection, { will: 'discard', reasonCode: ReasonCode.UnspecifiedError }, now, config, out);
      break;
    }
    case 'socketClosed': {
      const connection = state.connections.get(input.connectionId);
      // [MQTT-3.1.2-8] a lost client's will is published; a platform loss holds it for the grace (lifecycle.ts).
      const will = input.cause === 'platform' ? 'afterGrace' : 'publish';
      if (connection) endConnection(state, connection, { will, cause: input.cause === 'platform' ? 'platform' : 'lost' }, now, config, out);
      state.connections.delete(input.connectionId);
      break;
    }
    case 'routed':
      onRouted(state, input.ack, input.ok, now, config, out, input.overloaded === true);
      break;
    case 'subscribed':
      onSubscribed(state, input.connectionId, input.then, input.results, now, config, out);
      break;
    case 'queueRead':
      onQueueRead(state, input.messages, now, config, out);
      break;
    case 'deliver':
      out.reply = onDeliver(state, input.deliveries, now, config, out);
      break;
    case 'alarm':
      onAlarm(state, now, config, out);
      break;
    case 'tokenChanged':
      onTokenChanged(state, input.tokenId, input.token, now, config, out);
      break;
    case 'kick': {
      const owner = ownerOf(state);
      if (owner) endConnection(state, owner, { will: 'publish', reasonCode: ReasonCode.AdministrativeAction, reasonString: 'Administrative action: kicked by the admin', cause: 'kicked' }, now, config, out);
      out.reply = { kicked: owner !== undefined };
      break;
    }
    default:
      assertNever(input);
  }
  // The first input after a wake: a retained replay restored from its row goes on (retained-replay.ts).
  const owner = ownerOf(state);
  if (owner?.replay?.restored) resumeReplay(state, owner, queueRoom(state, owner, config), out);
  logLimitHits(state.session.record ?? recordBefore, now, out);
  return { state, effects: out.finish(), ...(out.reply === undefined ? {} : { reply: out.reply }) };
}

/** Limits the step hit (counted in the session's rows) become entries of the tenant's event log too. */
function logLimitHits(record: SessionRecord | undefined, now: number, out: Effects): void {
  if (!record) return;
  for (const { counter, n } of out.counted()) {
    const event = limitEvent(counter, n, record, now);
    if (event) out.emit({ type: 'log', tenant: record.tenant, event });
  }
}

/** The protocol gate first (first packet CONNECT, no second CONNECT, no server-only packets), then the packet. */
function onPacket(state: State, connection: Connection, packet: Packet, now: number, config: SessionConfig, out: Effects): void {
  const gate = gateClientPacket(connection.phase, packet.type, connection.protocolVersion);
  if (!gate.ok) return endConnection(state, connection, { will: 'publish', reasonCode: gate.reasonCode }, now, config, out);
  switch (packet.type) {
    case 'connect':
      return onConnect(state, connection, packet, now, config, out);
    case 'publish':
      return onPublish(state, connection, packet, now, config, out);
    case 'puback':
      return onPuback(state, connection, packet.packetId, now, config, out);
    case 'pubrec':
      return onPubrec(state, connection, packet.packetId, packet.reasonCode, now, config, out);
    case 'pubcomp':
      return onPubcomp(state, connection, packet.packetId, now, config, out);
    case 'pubrel':
      return onPubrel(state, connection, packet.packetId, out);
    case 'subscribe':
      return onSubscribe(state, connection, packet, now, config, out);
    case 'unsubscribe':
      return onUnsubscribe(state, connection, packet, out);
    case 'pingreq':
      // Normally answered by the Worker; one that reaches us is answered the same [MQTT-3.12.4-1].
      return out.send(connection.id, { type: 'pingresp' });
    case 'disconnect':
      return onDisconnect(state, connection, packet.reasonCode, packet.properties?.sessionExpiryInterval, now, config, out);
    case 'auth':
      // Enhanced authentication is not offered: AUTH without a method accepted at CONNECT [MQTT-4.12.0-7 v5].
      return endConnection(state, connection, { will: 'publish', reasonCode: ReasonCode.ProtocolError }, now, config, out);
    case 'connack':
    case 'suback':
    case 'unsuback':
    case 'pingresp':
      return; // refused by the gate
    default:
      return assertNever(packet);
  }
}

function onDisconnect(state: State, connection: Connection, reasonCode: number | undefined, newExpiry: number | undefined, now: number, config: SessionConfig, out: Effects): void {
  const record = state.session.record;
  if (newExpiry !== undefined && record?.connectionId === connection.id) {
    // (5.0 §3.14.2.2.2) a session that was to end with its connection cannot be extended at DISCONNECT.
    if (record.sessionExpiryInterval === 0 && newExpiry !== 0) {
      return endConnection(state, connection, { will: 'publish', reasonCode: ReasonCode.ProtocolError }, now, config, out);
    }
    record.sessionExpiryInterval = newExpiry;
  }
  // [MQTT-3.14.4-3] [MQTT-3.14.4-3 v5] a normal DISCONNECT (0x00) discards the will; any other 5.0 reason
  // (0x04 Disconnect with Will Message, or an error the client reports) leaves it to be published [MQTT-3.1.2-8 v5].
  const will = (reasonCode ?? ReasonCode.NormalDisconnection) === ReasonCode.NormalDisconnection ? 'discard' : 'publish';
  endConnection(state, connection, { will, cause: 'client', ...(reasonCode === undefined ? {} : { clientReasonCode: reasonCode }) }, now, config, out);
}

/**
 * Deliveries from a shard: those matching a filter this session still holds go out (or are stored); the
 * others are reported stale so that the shard forgets them (self-healing after a lost unsubscribe).
 */
function onDeliver(state: State, deliveries: readonly Delivery[], now: number, config: SessionConfig, out: Effects): Reply {
  recoverLostOwner(state, 'wake', now, config, out);
  const { record, subscriptions } = state.session;
  const stale = new Set<string>();
  const wanted: Delivery[] = [];
  for (const delivery of deliveries) {
    const held = record ? delivery.filters.filter((filter) => subscriptions.has(filter)) : [];
    for (const filter of delivery.filters) if (!held.includes(filter)) stale.add(filter);
    if (held.length > 0) wanted.push(delivery);
  }
  if (wanted.length > 0) deliver(state, wanted, now, config, out);
  return { stale: [...stale], online: ownerOf(state) !== undefined };
}

/** What the sessions API shows of a session; undefined when there is none. */
export function describeSession(
  state: State,
):
  | {
      connected: boolean;
      tokenId: string | null;
      subscriptions: Array<{ filter: string; qos: number }>;
      queued: number;
      inflight: number;
      protocolVersion: number;
      sessionExpiryInterval: number;
      expiresAt: number | null;
    }
  | undefined {
  const { record, subscriptions, queue, inflight } = state.session;
  if (!record) return undefined;
  const { protocolVersion, sessionExpiryInterval, expiresAt } = record;
  return {
    connected: ownerOf(state) !== undefined,
    tokenId: record.token?.id ?? null,
    subscriptions: [...subscriptions].map(([filter, options]) => ({ filter, qos: options.qos })),
    queued: queue.length,
    inflight: inflight.size,
    protocolVersion,
    sessionExpiryInterval,
    expiresAt,
  };
}
