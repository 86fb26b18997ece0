// Messages to the client: the inflight window and the queue in front of it (EMQX emqx_inflight + emqx_mqueue).
//
//   deliver(m), m not expired [MQTT-3.3.2-5 v5]         window = min(maximumInflight, client's Receive Maximum)
//     QoS 0    ──▶ sent if connected, else dropped; never stored
//     QoS 1/2  ──▶ connected, queue empty, window has room?
//                    yes ──▶ inflight: stored (Published), sent
//                    no  ──▶ queue: stored (Queued); bounded in messages and in payload bytes, the oldest
//                            dropped first and counted (queue_dropped, queue_dropped_bytes)
//   PUBACK / PUBCOMP / error PUBREC ──▶ row deleted, slot freed ──▶ drain: the oldest queued move into the window
//   PUBREC ──▶ Released, PUBREL sent; the PUBLISH is never sent again [MQTT-4.3.3-1]
//   reconnect ──▶ inflight resent in order: PUBLISH with DUP=1, or PUBREL [MQTT-4.4.0-1], as many as the
//                 client's Receive Maximum allows now; the rest as acknowledgements free room; then drain
//
// Queued rows stay in SQLite (the queue may be long); the session holds only their sizes and a cursor
// (queue.ts), and reads them with a `readQueue` effect whose answer comes back as `onQueueRead`.
import type { Properties, PublishPacket } from '../codec/packets.js';
import { encodePacket } from '../codec/index.js';
import { ReasonCode, isFailureCode } from '../reason-codes.js';
import { hasExpired, remainingExpirySeconds, type ApplicationMessage, type Delivery } from '../routing/message.js';
import type { Effects } from './effects.js';
import { nextPacketId } from './packet-ids.js';
import { OutboundState, ownerOf, recordOf, type Connection, type OutboundMessage, type SessionConfig, type State, type StoredSession } from './state.js';
import { OutboundTopicAliases } from './topic-alias.js';
import { continueReplay } from './retained-replay.js';
import { mayReceive } from '../acl/acl.js';
import { aclIdentity } from './admission.js';

/** Our outbound window: MAX_INFLIGHT, or less if the client's Receive Maximum is lower [MQTT-3.3.4-9 v5]. */
function windowOf(connection: Connection, config: SessionConfig): number {
  return Math.min(config.maximumInflight, connection.receiveMaximum);
}

/**
 * The queue's bound in messages: offline, the deployment's (MAX_QUEUED) or the token's if lower; online, the
 * generous MAX_QUEUED_ONLINE (a connected subscriber is draining; a burst from many publishers should not
 * cost it messages already acknowledged to them), so that the byte bound (MAX_QUEUED_BYTES) is what binds.
 */
function queueBound(session: StoredSession, config: SessionConfig, online: boolean): number {
  const offline = Math.min(config.maximumQueued, session.record?.token?.limits.maxQueued ?? Infinity);
  return online ? Math.max(offline, config.maximumQueuedOnline) : offline;
}

/**
 * Sends or stores deliveries already matched to this session's subscriptions: QoS 0 goes out only while
 * connected and never touches SQLite; QoS 1/2 is written before it is sent, and queued (bounded) while
 * offline or while the window is full.
 */
export function deliver(state: State, deliveries: readonly Delivery[], now: number, config: SessionConfig, out: Effects): void {
  const session = state.session;
  const owner = ownerOf(state);
  let queuedNow = 0;
  let unreadable = 0;
  for (const delivery of deliveries) {
    if (hasExpired(delivery, now)) continue;
    if (!receivable(session, delivery.topic)) {
      unreadable++;
      continue;
    }
    if (isDuplicateQos2(session, delivery)) {
      out.persist({ op: 'count', counter: 'qos2_duplicate', n: 1 });
      continue;
    }
    const message = outboundFields(delivery);
    if (delivery.qos === 0) {
      if (owner) sendPublish(owner, message, undefined, false, now, out);
      continue;
    }
    const sendNow = owner && owner.resendFromSeq === undefined && session.queue.length === 0 && session.inflight.size < windowOf(owner, config);
    const packetId = sendNow ? allocatePacketId(session) : undefined;
    if (owner && packetId !== undefined) {
      // [MQTT-3.1.2-25 v5] one larger than the client accepts is discarded as if delivered: no row.
      if (sendPublish(owner, message, packetId, false, now, out) !== 'sent') continue;
      const stored: OutboundMessage = { ...message, seq: session.nextSeq++, packetId, state: OutboundState.Published };
      out.persist({ op: 'insertOutbound', message: stored });
      session.inflight.set(packetId, stored);
    } else {
      out.persist({ op: 'insertOutbound', message: { ...message, seq: session.nextSeq++, packetId: null, state: OutboundState.Queued } });
      session.queue.push(message.payload.length);
      queuedNow++;
    }
  }
  if (unreadable > 0) out.persist({ op: 'count', counter: 'acl_dropped', n: unreadable });
  if (queuedNow === 0) return;
  // The queue's bounds, in messages and in payload bytes: the oldest messages go first, and are counted
  // [DESIGN §3]. The queue knows each message's size, so the drop is exact (queue.ts).
  const { byCount, byBytes } = session.queue.overflow(queueBound(session, config, owner !== undefined), config.maximumQueuedBytes);
  if (byCount + byBytes > 0) {
    out.persist({ op: 'dropOldestQueued', count: byCount + byBytes });
    if (byCount > 0) out.persist({ op: 'count', counter: 'queue_dropped', n: byCount });
    if (byBytes > 0) out.persist({ op: 'count', counter: 'queue_dropped_bytes', n: byBytes });
    session.queue.dropOldest(byCount + byBytes);
  }
  if (owner) drain(state, owner, config, out);
}

/** Asks for the oldest queued messages that fit in the window (one read in flight at a time). */
export function drain(state: State, owner: Connection, config: SessionConfig, out: Effects): void {
  const { queue, inflight } = state.session;
  const room = windowOf(owner, config) - inflight.size;
  // Messages still to be resent go first: the queue waits behind them.
  if (queue.length === 0 || room <= 0 || queue.reading || owner.resendFromSeq !== undefined) return;
  queue.reading = true;
  out.emit({ type: 'readQueue', afterSeq: queue.drainedSeq, limit: room });
}

/** Queued messages read from storage, oldest first: they move into the window and are sent. */
export function onQueueRead(state: State, messages: readonly OutboundMessage[], now: number, config: SessionConfig, out: Effects): void {
  const session = state.session;
  session.queue.reading = false;
  const owner = ownerOf(state);
  if (!owner) return;
  if (messages.length === 0) {
    // The count ran ahead of the rows (they were dropped meanwhile): nothing is queued.
    session.queue.clear();
    return replayNextRound(state, owner, config, out);
  }
  for (const message of messages) {
    session.queue.shift();
    session.queue.drainedSeq = message.seq;
    const packetId = hasExpired(message, now) || !receivable(session, message.topic, out) ? undefined : allocatePacketId(session);
    if (packetId === undefined || sendPublish(owner, message, packetId, false, now, out) !== 'sent') {
      out.persist({ op: 'deleteOutbound', seq: message.seq });
      continue;
    }
    out.persist({ op: 'markSent', seq: message.seq, packetId });
    session.inflight.set(packetId, { ...message, packetId, state: OutboundState.Published });
  }
  drain(state, owner, config, out);
  // The queue emptied: a retained replay waiting for room reads its next round.
  replayNextRound(state, owner, config, out);
}

/**
 * A retained replay of this connection, if any, reads its next round when the session has room
 * (retained-replay.ts). Runs on every acknowledgement: without a replay it costs one field read.
 */
export function replayNextRound(state: State, owner: Connection, config: SessionConfig, out: Effects): void {
  if (owner.replay) continueReplay(state, owner, queueRoom(state, owner, config), out);
}

/**
 * What the session takes now without its queue dropping anything: `window`, the inflight window's free
 * slots while nothing waits ahead of them (a QoS 1/2 message goes out at once); `count`, those plus the
 * queue's free slots; `bytes`, the queue's free payload bytes. A retained replay reads a round only when
 * the window has a slot, and takes no more than this from it (retained-replay.ts).
 */
export function queueRoom(state: State, owner: Connection, config: SessionConfig): { window: number; count: number; bytes: number } {
  const { queue, inflight } = state.session;
  const window = queue.length === 0 && owner.resendFromSeq === undefined ? Math.max(0, windowOf(owner, config) - inflight.size) : 0;
  return {
    window,
    count: window + Math.max(0, queueBound(state.session, config, true) - queue.length),
    bytes: Math.max(0, config.maximumQueuedBytes - queue.bytes),
  };
}

/**
 * On resume: PUBLISH again with DUP=1, or PUBREL again, in the original order [MQTT-4.4.0-1], and no more
 * than the client's Receive Maximum allows now [MQTT-3.3.4-9 v5]: the rest follow as acknowledgements free
 * room (`resendFromSeq` marks where). A message the client's Maximum Packet Size no longer admits is
 * discarded as if delivered [MQTT-3.1.2-25 v5].
 */
export function resendInflight(state: State, owner: Connection, now: number, config: SessionConfig, out: Effects): void {
  delete owner.resendFromSeq;
  resendFrom(state, owner, -Infinity, 0, now, config, out);
  if (owner.resendFromSeq !== undefined) out.emit({ type: 'saveConnection', connection: recordOf(owner) });
}

/**
 * Resends inflight messages from `fromSeq` on while the window has room beyond the `sent` already out; sets
 * `resendFromSeq` where it stopped.
 */
function resendFrom(state: State, owner: Connection, fromSeq: number, sent: number, now: number, config: SessionConfig, out: Effects): void {
  const { inflight } = state.session;
  const window = windowOf(owner, config);
  for (const message of [...inflight.values()].filter((m) => m.seq >= fromSeq).sort((a, b) => a.seq - b.seq)) {
    if (sent >= window) {
      owner.resendFromSeq = message.seq;
      return;
    }
    const packetId = message.packetId!;
    if (message.state === OutboundState.Released) out.send(owner.id, { type: 'pubrel', packetId });
    else if (!receivable(state.session, message.topic, out) || sendPublish(owner, message, packetId, true, now, out) !== 'sent') {
      out.persist({ op: 'deleteOutbound', seq: message.seq });
      inflight.delete(packetId);
      continue;
    }
    sent++;
  }
}

/** A slot freed while a resume's resend is unfinished: the next messages to resend go out. */
function continueResend(state: State, owner: Connection, now: number, config: SessionConfig, out: Effects): void {
  const fromSeq = owner.resendFromSeq;
  if (fromSeq === undefined) return;
  delete owner.resendFromSeq;
  let sent = 0;
  for (const message of state.session.inflight.values()) if (message.seq < fromSeq) sent++;
  resendFrom(state, owner, fromSeq, sent, now, config, out);
  out.emit({ type: 'saveConnection', connection: recordOf(owner) });
}

/** PUBACK ends an outbound QoS 1 message and frees its slot. */
export function onPuback(state: State, owner: Connection, packetId: number, now: number, config: SessionConfig, out: Effects): void {
  const message = state.session.inflight.get(packetId);
  if (message?.qos !== 1) return;
  complete(state, owner, message, now, config, out);
}

/** PUBCOMP ends a released outbound QoS 2 message and frees its slot. */
export function onPubcomp(state: State, owner: Connection, packetId: number, now: number, config: SessionConfig, out: Effects): void {
  const message = state.session.inflight.get(packetId);
  if (message?.qos !== 2 || message.state !== OutboundState.Released) return;
  complete(state, owner, message, now, config, out);
}

/** PUBREC: release the message and answer PUBREL; a PUBREC with an error ends the exchange (5.0 §4.3.3). */
export function onPubrec(state: State, owner: Connection, packetId: number, reasonCode: number | undefined, now: number, config: SessionConfig, out: Effects): void {
  const inflight = state.session.inflight.get(packetId);
  // Only an outbound QoS 2 message has a PUBREC to expect; for any other id it is unknown.
  const message = inflight?.qos === 2 ? inflight : undefined;
  if (message && isFailureCode(reasonCode ?? 0)) {
    complete(state, owner, message, now, config, out);
    return;
  }
  if (message?.state === OutboundState.Published) {
    // [MQTT-4.3.3-1] after PUBREC the message is released: PUBREL, and the PUBLISH is never sent again.
    out.persist({ op: 'markReleased', seq: message.seq });
    message.state = OutboundState.Released;
  }
  // 5.0 answers an unknown id with 0x92 (5.0 §3.6.2.1); 3.1.1 answers PUBREL regardless.
  const notFound = message || owner.protocolVersion !== 5 ? {} : { reasonCode: ReasonCode.PacketIdentifierNotFound };
  out.send(owner.id, { type: 'pubrel', packetId, ...notFound });
}

function complete(state: State, owner: Connection, message: OutboundMessage, now: number, config: SessionConfig, out: Effects): void {
  out.persist({ op: 'deleteOutbound', seq: message.seq });
  state.session.inflight.delete(message.packetId!);
  continueResend(state, owner, now, config, out);
  drain(state, owner, config, out);
  // A window slot freed: a retained replay waiting for one reads its next round.
  replayNextRound(state, owner, config, out);
}

/**
 * A PUBLISH for this connection (the remaining expiry, a topic alias), sent unless it has expired or is
 * larger than the client's Maximum Packet Size (then counted).
 */
function sendPublish(
  connection: Connection,
  message: ApplicationMessage,
  packetId: number | undefined,
  dup: boolean,
  now: number,
  out: Effects,
): 'sent' | 'expired' | 'oversize' {
  let properties: Properties | undefined = message.properties;
  if (message.expiresAt !== undefined) {
    const remaining = remainingExpirySeconds(message.expiresAt, now);
    // A resend keeps its promise to deliver: at least one second left.
    if (remaining === undefined && !dup) return 'expired';
    // [MQTT-3.3.2-6 v5] forward the time that is left.
    properties = { ...properties, messageExpiryInterval: remaining ?? 1 };
  }
  let topic = message.topic;
  let defineAlias: number | undefined;
  if (connection.protocolVersion === 5 && connection.topicAliasMaximum > 0 && !dup) {
    connection.outboundAliases ??= new OutboundTopicAliases(connection.topicAliasMaximum);
    const alias = connection.outboundAliases.aliasFor(topic);
    if (alias) {
      properties = { ...properties, topicAlias: alias.alias };
      if (alias.sendTopic) defineAlias = alias.alias;
      else topic = '';
    }
  }
  const packet: PublishPacket = {
    type: 'publish',
    topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
    dup,
    ...(packetId === undefined ? {} : { packetId }),
    ...(properties ? { properties } : {}),
  };
  if (connection.maximumPacketSize !== undefined && encodePacket(packet, connection.protocolVersion).length > connection.maximumPacketSize) {
    // [MQTT-3.1.2-25 v5] discarded as if delivered; counted.
    out.persist({ op: 'count', counter: 'oversize_dropped', n: 1 });
    return 'oversize';
  }
  if (defineAlias !== undefined) connection.outboundAliases!.define(message.topic, defineAlias);
  out.send(connection.id, packet);
  return 'sent';
}

/**
 * May the session's token read `topic` now? Checked as a message is queued and again as it leaves (drained
 * or resent), because the token may have been narrowed meanwhile, or another token may have taken the
 * client id over [DESIGN §3]. Anonymous sessions read everything. A refusal met on the way out is counted
 * here (pass `out`); the caller drops the message as if delivered.
 */
function receivable(session: StoredSession, topic: string, out?: Effects): boolean {
  const record = session.record;
  const token = record?.token;
  if (!record || !token || mayReceive(token.acl, aclIdentity(record.clientId, token), topic)) return true;
  out?.persist({ op: 'count', counter: 'acl_dropped', n: 1 });
  return false;
}

function allocatePacketId(session: StoredSession): number | undefined {
  const id = nextPacketId(session.lastPacketId, session.inflight);
  if (id !== undefined) session.lastPacketId = id;
  return id;
}

/** What an outbound row keeps of a delivery: Subscription Identifiers travel inside its properties. */
function outboundFields(delivery: Delivery): ApplicationMessage {
  let properties = delivery.properties;
  if (delivery.subscriptionIdentifiers && delivery.subscriptionIdentifiers.length > 0) {
    // [MQTT-3.3.4-3 v5] the identifiers of every matching subscription go with the message.
    properties = { ...properties, subscriptionIdentifiers: delivery.subscriptionIdentifiers };
  }
  return {
    topic: delivery.topic,
    payload: delivery.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    ...(properties ? { properties } : {}),
    ...(delivery.expiresAt !== undefined ? { expiresAt: delivery.expiresAt } : {}),
    ...(delivery.exactlyOnceKey !== undefined ? { exactlyOnceKey: delivery.exactlyOnceKey } : {}),
  };
}

/** Keys of completed QoS 2 messages kept in memory beyond their rows (oldest forgotten first). */
const EXACTLY_ONCE_KEYS_KEPT = 10_000;

/**
 * A QoS 2 copy whose publisher routed it again after a crash, and that this session holds already (its row,
 * or, while this object lives, a recently completed one): not stored twice [MQTT-4.3.3-2]. Otherwise its key
 * is remembered.
 */
function isDuplicateQos2(session: StoredSession, delivery: Delivery): boolean {
  const key = delivery.exactlyOnceKey;
  if (delivery.qos !== 2 || key === undefined) return false;
  const keys = session.exactlyOnceKeys;
  if (keys.has(key)) return true;
  keys.add(key);
  if (keys.size > EXACTLY_ONCE_KEYS_KEPT) keys.delete(keys.values().next().value!);
  return false;
}
