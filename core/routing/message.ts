// The one application-message shape and its envelopes on the way from a publisher to a subscriber.
//
//   client PUBLISH / will / HTTP publish ──routedMessage()──▶ RoutedMessage   (session → shard)
//   shard plans one copy per session      ─────────────────▶ Delivery        (shard → session)
//   the session stores QoS 1/2 copies     ─────────────────▶ OutboundMessage (core/session/outbound.ts)
//
// Every envelope is an ApplicationMessage plus the few fields its stage needs.
import type { Properties, QoS, Will } from '../codec/packets.js';

/** What a publisher sent: topic, payload, QoS, RETAIN and the properties that travel with it. */
export interface ApplicationMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** 5.0 properties forwarded unchanged to subscribers (5.0 §3.3.2.3). */
  properties?: Properties;
  /** Absolute expiry (ms since the epoch) from a 5.0 Message Expiry Interval; absent = never. */
  expiresAt?: number;
  /**
   * A QoS 2 message's identity, given by its publisher's session when it first receives it. Routed again
   * after a crash (the PUBREC never left), it carries the same key, and a subscriber that holds the message
   * already does not store it twice [MQTT-4.3.3-2]: exactly once across kills of the runtime.
   */
  exactlyOnceKey?: string;
}

/** An application message as a publisher's session (or the API, or the tenant) hands it to its shard. */
export interface RoutedMessage extends ApplicationMessage {
  /** Session name of the publisher (No Local); absent for broker-made messages such as $SYS. */
  origin?: string;
  /** For a retained message: how many retained topics this shard may hold for the tenant (its share). */
  retainedLimit?: number;
  /** The publisher's token: its shard counts the tenant's usage per token. Absent: anonymous or the broker. */
  tokenId?: string;
}

/** One copy of a message for one session, at the QoS and RETAIN it is delivered with. */
export interface Delivery extends ApplicationMessage {
  /** The session's filters that matched; lets the session report ones it no longer holds. */
  filters: string[];
  /** 5.0 Subscription Identifiers of the matching subscriptions [MQTT-3.3.4-3 v5]. */
  subscriptionIdentifiers?: number[];
}

/** A retained message as a shard keeps it (RETAIN is implied). */
export type RetainedMessage = Omit<ApplicationMessage, 'retain'>;

/** The name of the session object of a client id within a tenant; also a message's origin for No Local. */
export function sessionName(tenant: string, clientId: string): string {
  return `${tenant}\u0000${clientId}`;
}

/**
 * An application message (a client's PUBLISH, a will, an HTTP publish) as it goes to its shard: forwardable
 * properties only, and the Message Expiry Interval turned into an absolute time.
 */
export function routedMessage(source: Will, origin: string | undefined, now: number): RoutedMessage {
  const message: RoutedMessage = { topic: source.topic, payload: source.payload, qos: source.qos, retain: source.retain };
  if (origin !== undefined) message.origin = origin;
  const properties = source.properties ? forwardableProperties(source.properties) : undefined;
  if (properties) message.properties = properties;
  const expiresAt = messageExpiresAt(now, source.properties?.messageExpiryInterval);
  if (expiresAt !== undefined) message.expiresAt = expiresAt;
  return message;
}

/**
 * 5.0 properties that travel with an application message to its subscribers unchanged (5.0 §3.3.2.3):
 * payload format, content type, response topic, correlation data, user properties. The expiry travels as
 * an absolute time and is re-computed per delivery; topic aliases are per connection.
 */
export function forwardableProperties(properties: Properties): Properties | undefined {
  const forwarded: Properties = {};
  if (properties.payloadFormatIndicator !== undefined) forwarded.payloadFormatIndicator = properties.payloadFormatIndicator;
  if (properties.contentType !== undefined) forwarded.contentType = properties.contentType;
  if (properties.responseTopic !== undefined) forwarded.responseTopic = properties.responseTopic;
  if (properties.correlationData !== undefined) forwarded.correlationData = properties.correlationData;
  if (properties.userProperties !== undefined) forwarded.userProperties = properties.userProperties;
  return Object.keys(forwarded).length > 0 ? forwarded : undefined;
}

/** Absolute expiry of a message with a Message Expiry Interval; undefined = never. */
export function messageExpiresAt(nowMs: number, intervalSeconds: number | undefined): number | undefined {
  return intervalSeconds === undefined ? undefined : nowMs + intervalSeconds * 1000;
}

/**
 * The interval to forward: what is left, rounded up, never 0 for a live message [MQTT-3.3.2-6 v5].
 * Returns undefined when the message has expired.
 */
export function remainingExpirySeconds(expiresAtMs: number, nowMs: number): number | undefined {
  const left = expiresAtMs - nowMs;
  return left <= 0 ? undefined : Math.ceil(left / 1000);
}

/** True once a message's expiry has passed: it is neither delivered nor kept [MQTT-3.3.2-5 v5]. */
export function hasExpired(message: { expiresAt?: number }, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now;
}
