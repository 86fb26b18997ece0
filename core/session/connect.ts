// CONNECT as named lists of steps, read top to bottom (model: aedes handlers/connect.js): `decideConnect` in the
// Worker before any session object wakes, `onConnect` in the session.
import type { ConnectPacket, Properties } from '../codec/packets.js';
import { ReasonCode, connackCodeFor, refusalClosesWithoutConnack, type ReasonCodeValue } from '../reason-codes.js';
import { isValidTopicName } from '../topic/validate.js';
import { admitPublish, aclIdentity } from './admission.js';
import type { Effects } from './effects.js';
import { sessionExpiryInterval } from './expiry.js';
import { discardSession, endConnection, recoverLostOwner, reportPresence, runDueTimers } from './lifecycle.js';
import { connectEvent } from './log-events.js';
import { drain, resendInflight } from './outbound.js';
import { forgetUnauthorizedSubscriptions } from './subscribe.js';
import { UNLIMITED_RECEIVE, recordOf, type Connection, type SessionConfig, type SessionRecord, type State } from './state.js';

export interface ConnectLimits {
  /** Ceiling on keepalive in seconds; 0 = none. Cloudflare resets sockets silent for 100 s. */
  maximumKeepAlive: number;
}

export type ConnectDecision =
  | {
      ok: true;
      clientId: string;
      /** True when the server chose the id (zero-length id with a clean session). */
      clientIdAssigned: boolean;
      /** Keepalive the server enforces, in seconds (0 = never). */
      keepAlive: number;
      /** 5.0: Server Keep Alive to announce when it differs from what the client asked for. */
      serverKeepAlive?: number;
    }
  | { ok: false; reasonCode: ReasonCodeValue; reason: string };

/**
 * Decide whether a decoded CONNECT is acceptable, before any session state is touched.
 * `newClientId` is called only when the server has to assign an identifier.
 */
export function decideConnect(
  packet: ConnectPacket,
  limits: ConnectLimits,
  newClientId: () => string,
): ConnectDecision {
  const v5 = packet.protocolVersion === 5;

  // Step 1: client identifier.
  let clientId = packet.clientId;
  let clientIdAssigned = false;
  if (clientId.length === 0) {
    // MQTT 3.1 (level 3) requires 1 to 23 characters: an empty id is refused whatever the flags.
    if (packet.protocolVersion === 3) {
      return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'MQTT 3.1 requires a client id' };
    }
    if (!packet.cleanSession && !v5) {
      // [MQTT-3.1.3-8] zero-length id without clean session: CONNACK 0x02 and close.
      return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'empty client id needs clean session' };
    }
    // [MQTT-3.1.3-6] [MQTT-3.1.3-7] assign a unique id; 5.0 always may [MQTT-3.1.3-6 v5].
    clientId = newClientId();
    clientIdAssigned = true;
  }
  if (clientId.length > 65535) {
    return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'client id too long' };
  }
  // The broker's own clients (a bridge's `$bridge/…`, a rule's `$rule/…`) hold sessions no device may take
  // over: their ids are refused from the outside (0x85; 3.1.1 0x02 Identifier rejected [MQTT-3.1.3-9]).
  if (isReservedClientId(clientId)) {
    return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: `client ids starting with ${RESERVED_CLIENT_ID_PREFIXES.join(' or ')} are the broker's own` };
  }

  // Step 2: the will topic must be a valid topic name [MQTT-3.3.2-2] [MQTT-4.7.3-1]. 3.1.1 has no CONNACK
  // code for that: it is a protocol violation, and the connection is closed without one [MQTT-4.8.0-1].
  if (packet.will && !isValidTopicName(packet.will.topic)) {
    return {
      ok: false,
      reasonCode: v5 ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError,
      reason: 'invalid will topic',
    };
  }

  // Step 3: enhanced authentication is not offered: a method we do not support gets 0x8C [MQTT-4.12.0-1 v5].
  if (v5 && packet.properties?.authenticationMethod !== undefined) {
    return { ok: false, reasonCode: ReasonCode.BadAuthenticationMethod, reason: 'authentication method not supported' };
  }

  // Step 4: keepalive. 3.1.1 cannot be told another value, so it is enforced as asked;
  // 5.0 is told Server Keep Alive when it asked for none or more than the ceiling [MQTT-3.2.2-21 v5].
  let keepAlive = packet.keepAlive;
  let serverKeepAlive: number | undefined;
  if (v5 && limits.maximumKeepAlive > 0 && (keepAlive === 0 || keepAlive > limits.maximumKeepAlive)) {
    keepAlive = limits.maximumKeepAlive;
    serverKeepAlive = keepAlive;
  }
  return { ok: true, clientId, clientIdAssigned, keepAlive, ...(serverKeepAlive === undefined ? {} : { serverKeepAlive }) };
}

/** The client id prefix of a bridge's own session (core/bridge/config.ts) and of a rule's (core/rules/rule.ts). */
export const BRIDGE_CLIENT_ID_PREFIX = '$bridge/';
export const RULE_CLIENT_ID_PREFIX = '$rule/';
/** Client id prefixes the broker's own clients use; no device may take one. */
export const RESERVED_CLIENT_ID_PREFIXES = [BRIDGE_CLIENT_ID_PREFIX, RULE_CLIENT_ID_PREFIX] as const;

export function isReservedClientId(clientId: string): boolean {
  return RESERVED_CLIENT_ID_PREFIXES.some((prefix) => clientId.startsWith(prefix));
}

/** Milliseconds without any packet after which the server closes the connection [MQTT-3.1.2-24]. */
export function keepAliveDeadlineMs(keepAliveSeconds: number): number {
  return keepAliveSeconds === 0 ? 0 : keepAliveSeconds * 1500;
}

/**
 * CONNECT at the session, step by step: check the token and the will, take over a live connection, discard
 * or resume state, store the session and will, CONNACK, then resend what was in flight and drain the queue.
 */
export function onConnect(state: State, connection: Connection, packet: ConnectPacket, now: number, config: SessionConfig, out: Effects): void {
  connection.protocolVersion = packet.protocolVersion;
  if (packet.protocolVersion === 5) {
    connection.receiveMaximum = packet.properties?.receiveMaximum ?? UNLIMITED_RECEIVE;
    connection.topicAliasMaximum = packet.properties?.topicAliasMaximum ?? 0;
    if (packet.properties?.maximumPacketSize !== undefined) connection.maximumPacketSize = packet.properties.maximumPacketSize;
  }

  // Step 1: the token the Worker authenticated; lost if this object restarted between the upgrade and CONNECT.
  const token = connection.offeredToken;
  if (token === undefined) return refuseConnect(connection, ReasonCode.ServerUnavailable, out);
  // Step 2: the will passes the admission of a PUBLISH from this token, now and when it is published [DESIGN §3].
  if (packet.will) {
    const admission = admitPublish(packet.will, token, aclIdentity(connection.clientId, token));
    if (!admission.ok) {
      if (admission.counter) out.persist({ op: 'count', counter: admission.counter, n: 1 });
      return refuseConnect(connection, admission.reasonCode, out);
    }
  }

  // Step 3: take-over. [MQTT-3.1.4-2] [MQTT-3.1.4-3 v5] the connection of a client already connected with this
  // client id is closed, with its will (a socket still awaiting its own CONNECT is not one: it may take over
  // in turn). An owner lost in a reset without a close event is released too, but without its will: the
  // platform lost that socket, and the client is back [MQTT-3.1.3-9 v5].
  for (const other of state.connections.values()) {
    if (other !== connection && other.phase === 'connected') {
      endConnection(state, other, { will: 'publish', reasonCode: ReasonCode.SessionTakenOver }, now, config, out);
    }
  }
  recoverLostOwner(state, 'connect', now, config, out);
  // Timers that came due before their alarm ran (alarms are late at times, never early): a delayed will whose
  // delay passed is published, an expired session ends, before this connection decides what it resumes.
  runDueTimers(state, now, config, out);

  // Step 4: a reconnect in time cancels a delayed will [MQTT-3.1.3-9 v5]; an expired session is gone.
  const previous = state.session.record;
  const expired = previous?.expiresAt != null && previous.expiresAt <= now;
  const hasState = previous !== undefined && previous.sessionExpiryInterval !== 0 && !expired;
  if (packet.cleanSession || !hasState) discardSession(state, out);
  // [MQTT-3.2.2-1] [MQTT-3.2.2-2] session present only when resuming stored state.
  const sessionPresent = !packet.cleanSession && hasState;

  // Step 5: store the session and its will [MQTT-3.1.2-8]; aliases start empty [MQTT-3.3.2-7 v5].
  const record: SessionRecord = {
    tenant: connection.tenant,
    clientId: connection.clientId,
    protocolVersion: packet.protocolVersion,
    sessionExpiryInterval: sessionExpiryInterval(packet),
    connectionId: connection.id,
    will: packet.will ?? null,
    expiresAt: null,
    willAt: null,
    token,
  };
  state.session.record = record;
  state.session.inboundAliases.clear();
  out.persist({ op: 'writeSession', record: { ...record } });
  out.persist({ op: 'clearInboundAliases' });
  // What a resumed session delivers is bounded by the token connecting now [DESIGN §3].
  if (sessionPresent) forgetUnauthorizedSubscriptions(state, out);
  connection.phase = 'connected';
  connection.offeredToken = undefined;
  out.emit({ type: 'saveConnection', connection: recordOf(connection) });
  out.emit({ type: 'setAlarm', at: null });

  // Step 6: CONNACK [MQTT-3.2.0-1] with what this server supports (5.0 §3.2.2.3).
  out.send(connection.id, { type: 'connack', sessionPresent, reasonCode: ReasonCode.Success, properties: connackProperties(connection, packet, config) });
  // CONNACK travels alone: a client that starts listening for messages once connected misses none.
  out.flush(connection.id);

  // Step 7: resend unacknowledged messages with DUP [MQTT-4.4.0-1], then the queue in order.
  resendInflight(state, connection, now, config, out);
  drain(state, connection, config, out);
  reportPresence(record, 'connected', out, connection.serverKeepAlive ?? packet.keepAlive);
  out.emit({ type: 'log', tenant: record.tenant, event: connectEvent(connection, packet, record, sessionPresent, now) });
}

/** The 5.0 CONNACK properties: what this server supports and assigned (5.0 §3.2.2.3). */
function connackProperties(connection: Connection, packet: ConnectPacket, config: SessionConfig): Properties {
  if (packet.protocolVersion !== 5) return {};
  const properties: Properties = {
    receiveMaximum: config.receiveMaximum,
    maximumPacketSize: config.maximumPacketSize,
    topicAliasMaximum: config.topicAliasMaximum,
    retainAvailable: 1,
    wildcardSubscriptionAvailable: 1,
    subscriptionIdentifierAvailable: 1,
    sharedSubscriptionAvailable: 1,
  };
  if (connection.clientIdAssigned) properties.assignedClientIdentifier = connection.clientId;
  if (connection.serverKeepAlive !== undefined) properties.serverKeepAlive = connection.serverKeepAlive;
  if (packet.properties?.requestResponseInformation === 1) {
    // (5.0 §3.1.2.11.7, §4.10) a topic prefix this client may use for responses.
    properties.responseInformation = `response/${connection.clientId}`;
  }
  return properties;
}

/**
 * A refused CONNECT: CONNACK with the reason (Session Present 0 [MQTT-3.2.2-4]) and close [MQTT-3.2.2-5];
 * the stored session is untouched.
 */
function refuseConnect(connection: Connection, reasonCode: ReasonCodeValue, out: Effects): void {
  connection.phase = 'closed';
  out.emit({ type: 'saveConnection', connection: recordOf(connection) });
  if (!refusalClosesWithoutConnack(reasonCode, connection.protocolVersion)) {
    out.send(connection.id, { type: 'connack', sessionPresent: false, reasonCode: connackCodeFor(reasonCode, connection.protocolVersion) });
  }
  out.close(connection.id);
}
