// The event log entries a session writes (core/tenancy/event-log.ts): its client connected, its connection
// ended and why, a limit refused something. Built here so that every adapter words them the same way.
import type { ConnectPacket } from '../codec/packets.js';
import { ReasonCode } from '../reason-codes.js';
import { disconnectReasonString } from './server-disconnect.js';
import type { LogEvent } from '../tenancy/event-log.js';
import type { SessionCounter } from './effects.js';
import type { Connection, SessionRecord } from './state.js';

/** Who ended a connection, when it was not the server deciding on a reason code alone. */
export type EndCause =
  /** The client sent DISCONNECT. */
  | 'client'
  /** The socket closed without DISCONNECT (the client, or the network between us, went). */
  | 'lost'
  /** The platform dropped the socket (a deploy, an eviction, a runtime update). */
  | 'platform'
  /** An administrator kicked the client (the sessions API). */
  | 'kicked'
  /** Its token was revoked, disabled or expired. */
  | 'token';

/** Session counters that are a limit refusing something: each is also an entry of the event log. */
const LIMIT_COUNTERS: Partial<Record<SessionCounter, string>> = {
  limit_message_size: 'message_size',
  limit_publish_rate: 'publish_rate',
  limit_subscriptions: 'subscriptions',
  limit_filters_per_subscribe: 'filters_per_subscribe',
  queue_dropped: 'queued_messages',
  queue_dropped_bytes: 'queued_bytes',
};

/** The limit name a session counter stands for, if it is a limit hit. */
export function limitOfCounter(counter: SessionCounter): string | undefined {
  return LIMIT_COUNTERS[counter];
}

const LIMIT_TEXT: Record<string, string> = {
  message_size: "message larger than the token's maxMessageSize refused",
  publish_rate: "publish rate above the token's publishRate: disconnected (0x96)",
  subscriptions: 'subscription refused: the session holds its maximum',
  filters_per_subscribe: 'filters past the per-SUBSCRIBE maximum refused',
  queued_messages: 'queued messages dropped (oldest first): the queue is full',
  queued_bytes: 'queued messages dropped (oldest first): the queue holds its maximum bytes',
};

export function limitEvent(counter: SessionCounter, n: number, record: SessionRecord | undefined, now: number): LogEvent | undefined {
  const limit = limitOfCounter(counter);
  if (limit === undefined) return undefined;
  return {
    at: now,
    kind: 'limit',
    limit,
    count: n,
    message: n > 1 ? `${LIMIT_TEXT[limit]} (${n}×)` : (LIMIT_TEXT[limit] ?? limit),
    ...identity(record),
  };
}

export function connectEvent(connection: Connection, packet: ConnectPacket, record: SessionRecord, sessionPresent: boolean, now: number): LogEvent {
  const protocol = packet.protocolVersion === 5 ? '5.0' : packet.protocolVersion === 4 ? '3.1.1' : '3.1';
  const keepAlive = connection.serverKeepAlive ?? packet.keepAlive;
  const expiry = record.sessionExpiryInterval;
  const session = sessionPresent ? 'session resumed' : packet.cleanSession ? (packet.protocolVersion === 5 ? 'clean start' : 'clean session') : 'new session';
  return {
    at: now,
    kind: 'connect',
    message: `MQTT ${protocol}, keepalive ${keepAlive} s, ${session}${expiry > 0 ? `, session expiry ${expiry} s` : ''}${record.will ? ', with will' : ''}`,
    detail: { protocol, keepAlive, sessionPresent, cleanStart: packet.cleanSession, sessionExpiry: expiry, will: record.will !== null },
    ...identity(record),
  };
}

/** Why a connection ended, as the log says it. `reasonCode`: what the server told a 5.0 client, if anything. */
export function disconnectEvent(
  connection: Connection,
  ending: { reasonCode?: number; cause?: EndCause; clientReasonCode?: number; reasonString?: string },
  record: SessionRecord | undefined,
  now: number,
): LogEvent {
  const { reasonCode, cause, clientReasonCode } = ending;
  let message: string;
  if (cause === 'client') message = `client sent DISCONNECT${clientReasonCode ? ` ${hex(clientReasonCode)} ${reasonName(clientReasonCode)}` : ''}`;
  else if (cause === 'lost') message = 'connection lost (closed without DISCONNECT)';
  else if (cause === 'platform') message = 'connection dropped by the platform (restart or eviction)';
  else if (cause === 'kicked') message = 'kicked by an administrator';
  else if (cause === 'token') message = 'token revoked, disabled or expired';
  else message = reasonCode === undefined ? 'closed by the server' : `closed by the server: ${hex(reasonCode)} ${ending.reasonString ?? disconnectReasonString(reasonCode) ?? reasonName(reasonCode)}`;
  const code = cause === 'client' ? clientReasonCode : reasonCode;
  return {
    at: now,
    kind: cause === 'kicked' ? 'kick' : 'disconnect',
    message,
    ...(code === undefined ? {} : { reasonCode: code }),
    detail: { protocol: connection.protocolVersion === 5 ? '5.0' : '3.1.1', by: cause ?? 'server' },
    ...identity(record, connection.clientId),
  };
}

function identity(record: SessionRecord | undefined, clientId = record?.clientId): Pick<LogEvent, 'clientId' | 'tokenId'> {
  return { ...(clientId === undefined ? {} : { clientId }), ...(record?.token ? { tokenId: record.token.id } : {}) };
}

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

/** "KeepAliveTimeout" → "Keep alive timeout"; 0x00 in a DISCONNECT is "Normal disconnection". */
export function reasonName(code: number): string {
  if (code === 0) return 'Normal disconnection';
  const name = Object.entries(ReasonCode).find(([, value]) => value === code)?.[0];
  if (name === undefined) return 'Unknown reason';
  const words = name.replace(/QoS/g, 'Qos').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase().replace(/qos/g, 'QoS');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
