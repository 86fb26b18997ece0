// Messages from the client: PUBLISH admission, QoS 1/2 acknowledgements in arrival order, PUBREL.
//
//   PUBLISH ──▶ topic alias ──▶ admission (admission.ts) ──▶ Receive Maximum ──▶ publish rate
//     QoS 0  route (refused: dropped)
//     QoS 1  route ──routed──▶ PUBACK                       refused: PUBACK (5.0: with the reason)
//     QoS 2  first receipt: store the id and a key, route ──routed──▶ PUBREC; a duplicate: PUBREC, not routed
//            again; a resend of an id a crash left unconfirmed: routed again under its key (subscribers
//            holding that key store nothing)   PUBREL ──▶ forget the id ──▶ PUBCOMP   [MQTT-4.3.3-2] (method B)
//
// An ack leaves only when the message is stored at every subscriber (`routed` with ok) and after every ack
// before it [MQTT-4.6.0-2]; a failed route sends no ack and closes the connection: the client resends.
import type { Packet, PublishPacket } from '../codec/packets.js';
import { ReasonCode, isFailureCode } from '../reason-codes.js';
import { sessionName } from '../routing/message.js';
import { RateBucket } from '../tenancy/limits.js';
import { aclIdentity, admitPublish, messageToRoute } from './admission.js';
import type { Effects, RouteAck } from './effects.js';
import { endConnection } from './lifecycle.js';
import type { Connection, PendingAck, SessionConfig, State } from './state.js';
import { resolveInboundTopic } from './topic-alias.js';

export function onPublish(state: State, connection: Connection, packet: PublishPacket, now: number, config: SessionConfig, out: Effects): void {
  const session = state.session;
  const record = session.record!;
  const v5 = connection.protocolVersion === 5;
  const packetId = packet.packetId ?? 0;
  const close = (reasonCode: Parameters<typeof endConnection>[2]['reasonCode'], reasonString?: string) =>
    endConnection(state, connection, { will: 'publish', reasonCode, ...(reasonString === undefined ? {} : { reasonString }) }, now, config, out);

  // Topic aliases resolve first (5.0) [MQTT-3.3.2-12 v5]; they live as long as the connection.
  let topic = packet.topic;
  if (v5) {
    const resolved = resolveInboundTopic(packet, session.inboundAliases, config.topicAliasMaximum);
    if (!resolved.ok) return close(resolved.reasonCode);
    if (resolved.define) {
      session.inboundAliases.set(resolved.define.alias, resolved.define.topic);
      out.persist({ op: 'putInboundAlias', alias: resolved.define.alias, topic: resolved.define.topic });
    }
    topic = resolved.topic;
  }
  const token = record.token;
  const admission = admitPublish({ topic, payload: packet.payload, ...(packet.properties ? { properties: packet.properties } : {}) }, token, aclIdentity(connection.clientId, token));
  // [MQTT-3.3.2-2] [MQTT-4.7.3-1] not a topic name: a protocol violation, the connection closes.
  if (!admission.ok && admission.reasonCode === ReasonCode.TopicNameInvalid) return close(admission.reasonCode);

  // [MQTT-3.3.4-7 v5] more unacknowledged QoS 1/2 publishes than our Receive Maximum (a QoS 2 resend of an id
  // already received is not a new one).
  const isNew = packet.qos === 1 || (packet.qos === 2 && !isKnownQos2(state, packet, topic));
  if (v5 && isNew && connection.inboundUnacknowledged >= config.receiveMaximum) return close(ReasonCode.ReceiveMaximumExceeded);
  if (isNew) {
    connection.inboundUnacknowledged++;
    if (packet.qos === 2) connection.countedQos2.add(packetId);
  }
  const refusal = admission.ok ? undefined : admission;
  // (5.0 §3.3.2.3.2) a QoS 0 PUBLISH has no acknowledgement to refuse a payload that is not the UTF-8 it
  // declares: the connection closes (0x99).
  if (refusal?.reasonCode === ReasonCode.PayloadFormatInvalid && packet.qos === 0) return close(refusal.reasonCode);
  if (refusal?.counter) out.persist({ op: 'count', counter: refusal.counter, n: 1 });
  // (5.0 reason 0x96 Message rate too high) past the token's rate the connection ends (3.1.1 has no other answer).
  const rate = token?.limits.publishRate;
  if (rate !== undefined && !(connection.publishBucket ??= new RateBucket(rate, now)).take(now)) {
    out.persist({ op: 'count', counter: 'limit_publish_rate', n: 1 });
    return close(ReasonCode.MessageRateTooHigh, `Message rate too high: this token may publish ${rate} messages per second`);
  }

  const message = messageToRoute({ ...packet, topic }, sessionName(record.tenant, record.clientId), token?.maxRetained, now, config.shardCount, token?.id);
  const reason = refusal && v5 ? { reasonCode: refusal.reasonCode } : {};
  const routes = state.routes;
  /** Routes the message; the ack waits for the outcome. */
  const routeFor = (ack: PendingAck, inboundQos2?: { packetId: number; key: string }) => {
    ack.routeId = routes.next++;
    const routeAck: RouteAck = { connectionId: connection.id, routeId: ack.routeId, epoch: routes.epoch, ...(inboundQos2 ? { inboundQos2: inboundQos2.packetId } : {}) };
    const routed = inboundQos2 ? { ...message, exactlyOnceKey: inboundQos2.key } : message;
    out.emit({ type: 'route', tenant: record.tenant, message: routed, ack: routeAck });
    if (inboundQos2) routes.inboundQos2.set(inboundQos2.packetId, ack.routeId);
  };

  switch (packet.qos) {
    case 0:
      if (!refusal) out.emit({ type: 'route', tenant: record.tenant, message });
      return;
    case 1: {
      // [MQTT-4.3.2-2] PUBACK only once the message is stored at every subscriber; refused: at once.
      const ack: PendingAck = { packet: { type: 'puback', packetId, ...reason } };
      if (!refusal) routeFor(ack);
      return queueAck(connection, ack, out);
    }
    case 2: {
      // [MQTT-4.3.3-2] method B: route on first receipt, remember the id until PUBREL, never route it twice.
      const pubrec: PendingAck = { packet: { type: 'pubrec', packetId } };
      if (session.inboundQos2.has(packetId)) return queueAck(connection, pubrec, out);
      const pendingKey = session.pendingQos2.get(packetId);
      if (pendingKey !== undefined && isKnownQos2(state, packet, topic)) {
        // While the first copy is still being routed (sent before a take-over, say), this PUBREC waits for it.
        const firstCopy = routes.inboundQos2.get(packetId);
        if (firstCopy !== undefined) return queueAck(connection, { ...pubrec, routeId: firstCopy }, out);
        // Received before a crash, never confirmed routed everywhere, and sent again: routed again under the
        // same key, so that a subscriber which stored it the first time does not store it twice.
        routeFor(pubrec, { packetId, key: pendingKey });
        return queueAck(connection, pubrec, out);
      }
      // A refused QoS 2 ends at PUBREC with an error code: no PUBREL follows (5.0 §4.3.3).
      if (refusal && v5) return queueAck(connection, { packet: { type: 'pubrec', packetId, ...reason } }, out);
      if (refusal) {
        // 3.1.1 has no refusal: the message is acknowledged and dropped, the exchange runs to PUBCOMP.
        session.inboundQos2.add(packetId);
        out.persist({ op: 'addInboundQos2', packetId });
        return queueAck(connection, pubrec, out);
      }
      // Stored before routing starts (rows are written before anything leaves the object).
      const key = `${message.origin ?? ''}\u0000${packetId}\u0000${now}\u0000${routes.next}\u0000${fingerprint(packet, topic)}`;
      session.pendingQos2.set(packetId, key);
      out.persist({ op: 'addPendingQos2', packetId, key });
      routeFor(pubrec, { packetId, key });
      return queueAck(connection, pubrec, out);
    }
  }
}

/**
 * Is this QoS 2 PUBLISH one the session received already? Routed (until PUBREL), being routed, or received
 * before a crash and sent again: a resend carries the same topic and payload (its DUP flag cannot be relied
 * on: mqtt.js resends from its store without it, despite [MQTT-3.3.1-1]). Other content on an id left
 * pending by a crash is a new message: the client reused the id after losing its own state.
 */
function isKnownQos2(state: State, packet: PublishPacket, topic: string): boolean {
  const packetId = packet.packetId ?? 0;
  if (state.session.inboundQos2.has(packetId)) return true;
  const pendingKey = state.session.pendingQos2.get(packetId);
  if (pendingKey === undefined) return false;
  return state.routes.inboundQos2.has(packetId) || pendingKey.endsWith(`\u0000${fingerprint(packet, topic)}`);
}

/** FNV-1a (32 bits) over what makes a PUBLISH the same message: topic, QoS, RETAIN and payload. */
function fingerprint(packet: PublishPacket, topic: string): string {
  let hash = 0x811c9dc5;
  const mix = (byte: number) => {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  };
  for (let i = 0; i < topic.length; i++) {
    const unit = topic.charCodeAt(i);
    mix(unit & 0xff);
    mix(unit >>> 8);
  }
  mix(0);
  mix(packet.qos | (packet.retain ? 4 : 0));
  for (const byte of packet.payload) mix(byte);
  return `${packet.payload.length}-${hash.toString(16)}`;
}

/** PUBREL: the QoS 2 exchange ends; the id may be used again [MQTT-4.3.3-2]. */
export function onPubrel(state: State, connection: Connection, packetId: number, out: Effects): void {
  const known = state.session.inboundQos2.delete(packetId);
  if (known) out.persist({ op: 'deleteInboundQos2', packetId });
  // 5.0 answers an unknown id with 0x92 (5.0 §3.7.2.1); 3.1.1 answers PUBCOMP regardless.
  const notFound = known || connection.protocolVersion !== 5 ? {} : { reasonCode: ReasonCode.PacketIdentifierNotFound };
  queueAck(connection, { packet: { type: 'pubcomp', packetId, ...notFound } }, out);
}

/**
 * A route an acknowledgement waits for has settled. Stored everywhere: the ack may go (in order). Failed:
 * no acknowledgement, the connection closes without the will, and the client resends after it reconnects
 * [DESIGN §3].
 */
export function onRouted(state: State, ack: RouteAck, ok: boolean, now: number, config: SessionConfig, out: Effects, overloaded = false): void {
  const { session, routes } = state;
  // A QoS 2 id of this session (not of one discarded since, whatever connection now owns it): once stored
  // everywhere, a resend is never routed again.
  if (ack.inboundQos2 !== undefined && ack.epoch === routes.epoch) {
    routes.inboundQos2.delete(ack.inboundQos2);
    // Failed, the id stays pending with its key: the client's resend (DUP) is routed again under it.
    if (ok && session.pendingQos2.delete(ack.inboundQos2)) {
      session.inboundQos2.add(ack.inboundQos2);
      out.persist({ op: 'addInboundQos2', packetId: ack.inboundQos2 });
    }
  }
  // The acks waiting for this route: the publisher's, and a resend's on a connection that took over.
  for (const connection of state.connections.values()) {
    if (connection.phase !== 'connected') continue;
    const waiting = connection.pendingAcks.filter((entry) => entry.routeId === ack.routeId);
    if (waiting.length === 0) continue;
    if (!ok && overloaded && connection.protocolVersion === 5 && waiting.every((entry) => entry.packet.type === 'puback')) {
      // Shed, not failed: a 5.0 QoS 1 publisher is told 0x97 Quota exceeded and stays connected (a QoS 1
      // copy some subscribers may hold already is a duplicate QoS 1 allows if it sends again). QoS 2 and
      // 3.1.1 have no such answer: their connection closes below and the client resends under the same id.
      for (const entry of waiting) {
        entry.packet.reasonCode = ReasonCode.QuotaExceeded;
        delete entry.routeId;
      }
      out.persist({ op: 'count', counter: 'publish_overloaded', n: waiting.length });
      flushAcks(connection, out);
      continue;
    }
    if (!ok) {
      // Our failure, not the client's: no will, the client resends after it reconnects (lifecycle.ts WillFate).
      if (overloaded) out.persist({ op: 'count', counter: 'publish_overloaded', n: waiting.length });
      endConnection(state, connection, { will: 'discard', reasonCode: overloaded ? ReasonCode.ServerBusy : ReasonCode.UnspecifiedError }, now, config, out);
      continue;
    }
    for (const entry of waiting) delete entry.routeId;
    flushAcks(connection, out);
  }
}

function queueAck(connection: Connection, ack: PendingAck, out: Effects): void {
  connection.pendingAcks.push(ack);
  flushAcks(connection, out);
}

/** Sends the acknowledgements at the head of the line that are ready [MQTT-4.6.0-2]. */
function flushAcks(connection: Connection, out: Effects): void {
  const acks = connection.pendingAcks;
  while (acks.length > 0 && acks[0]!.routeId === undefined) {
    const { packet } = acks.shift()!;
    releaseInbound(connection, packet);
    out.send(connection.id, packet as Packet);
  }
}

/** A counted inbound publish is acknowledged for good: its slot under our Receive Maximum frees. */
function releaseInbound(connection: Connection, ack: PendingAck['packet']): void {
  const ends = ack.type === 'puback' || ack.type === 'pubcomp' || (ack.type === 'pubrec' && isFailureCode(ack.reasonCode ?? 0));
  if (!ends) return;
  // A QoS 2 id counted on an earlier connection is not counted on this one.
  if (ack.type !== 'puback' && !connection.countedQos2.delete(ack.packetId)) return;
  connection.inboundUnacknowledged = Math.max(0, connection.inboundUnacknowledged - 1);
}
