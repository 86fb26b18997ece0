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
}

/** A subscription as a shard holds it. */
export interface ShardSubscription {
  filter: string;
  qos: QoS;
}

export interface RetainedMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  properties?: Properties;
}

/** A shard's answer to subscribe: retained messages matching each filter, in request order. */
export interface SubscribeResult {
  filter: string;
  isNew: boolean;
  retained: RetainedMessage[];
}
