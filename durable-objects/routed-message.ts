// What travels between Durable Objects by RPC: messages on their way to shards and deliveries to sessions.
import type { Properties, QoS } from '../core/codec/packets.js';

/** An application message as a publisher's session hands it to the topic's shard. */
export interface RoutedMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** 5.0 properties forwarded unchanged to subscribers. */
  properties?: Properties;
  /** Session name of the publisher (No Local); absent for broker-made messages such as $SYS. */
  origin?: string;
  /** Absolute expiry (ms since the epoch) from a 5.0 Message Expiry Interval; absent = never. */
  expiresAt?: number;
  /** For a retained message: how many retained topics this shard may hold for the tenant (its share). */
  retainedLimit?: number;
}

/** One copy of a message for one session, at the QoS it is delivered with. */
export interface Delivery {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  /** RETAIN as forwarded: 0 for live messages [MQTT-3.3.1-9], 1 for retained ones sent on subscribe. */
  retain: boolean;
  properties?: Properties;
  /** The session's filters that matched; lets the session report ones it no longer holds. */
  filters: string[];
  /** 5.0 Subscription Identifiers of the matching subscriptions [MQTT-3.3.4-3 v5]. */
  subscriptionIdentifiers?: number[];
  /** Absolute expiry, ms since the epoch; the session forwards the remaining interval. */
  expiresAt?: number;
}

/** A subscription as a shard holds it (the filter may be a shared one: `$share/{group}/{filter}`). */
export interface ShardSubscription {
  filter: string;
  qos: QoS;
  /** 5.0 No Local: never deliver this session's own publications [MQTT-3.8.3-3 v5]. */
  noLocal?: boolean;
  /** 5.0 Retain As Published: keep the RETAIN flag on live forwarding [MQTT-3.3.1-12 v5]. */
  retainAsPublished?: boolean;
  /** 5.0 Subscription Identifier, 1..268,435,455. */
  subscriptionIdentifier?: number;
}

export interface RetainedMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  properties?: Properties;
  /** Absolute expiry, ms since the epoch [MQTT-3.3.2-5 v5]. */
  expiresAt?: number;
}

/** A shard's answer to subscribe: retained messages matching each filter, in request order. */
export interface SubscribeResult {
  filter: string;
  /** False when the session already held this filter (5.0 Retain Handling 1 sends retained only if new). */
  isNew: boolean;
  /** Unexpired retained messages matching the filter; always empty for shared subscriptions (5.0 §4.8.2). */
  retained: RetainedMessage[];
}

/** A session's answer to deliver(). */
export interface DeliverResult {
  /** Filters this session no longer holds: the shard forgets them. */
  stale: string[];
  /** False when the session has no live connection (shared subscriptions prefer online members). */
  online: boolean;
}
