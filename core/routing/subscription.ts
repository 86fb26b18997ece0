// The one subscription-options type, and what the session and its shards tell each other about subscriptions.
import type { QoS } from '../codec/packets.js';
import type { RetainedMessage } from './message.js';

/**
 * A subscription's options as granted, kept by the session and by the shard that matches it. The 5.0
 * options are absent (false) for a 3.1.1 session.
 */
export interface SubscriptionOptions {
  qos: QoS;
  /** Never deliver this session's own publications [MQTT-3.8.3-3 v5]. */
  noLocal?: boolean;
  /** Keep the publisher's RETAIN flag on live forwarding [MQTT-3.3.1-13 v5]. */
  retainAsPublished?: boolean;
  /** 1..268,435,455; absent when the SUBSCRIBE carried none. */
  subscriptionIdentifier?: number;
}

/** Where a filter's retained messages go on in one shard: after this topic, in topic order ('' = the start). */
export interface ReplayCursor {
  shard: number;
  after: string;
}

/** A subscription as a session registers it with a shard (the filter may be `$share/{group}/{filter}`). */
export interface ShardSubscription extends SubscriptionOptions {
  filter: string;
  /**
   * Session → router: not a registration, only the next page of the filter's retained messages from these
   * shards, each from where it left off (core/session/retained-replay.ts).
   */
  continueFrom?: ReplayCursor[];
  /** Router → one shard: the same, its own cursor. */
  after?: string;
}

/** A shard's answer to subscribe, per filter in request order. */
export interface SubscribeResult {
  filter: string;
  /** False when the session already held this filter (5.0 Retain Handling 1 sends retained only if new). */
  isNew: boolean;
  /**
   * Unexpired retained messages matching the filter, in topic order, one page of them (the shard bounds each
   * answer in messages and bytes); always empty for shared subscriptions (5.0 §4.8.2).
   */
  retained: RetainedMessage[];
  /** Set when the page stopped early: the last topic the shard examined, where the next page starts. */
  next?: string;
}

/** One shard's page of a filter's retained messages. */
export interface RetainedPage {
  shard: number;
  retained: RetainedMessage[];
  /** Where the shard's next page starts; absent when this was its last. */
  next?: string;
}

/** What a session learns of one filter from all the shards that hold it (a wildcard lives in every shard). */
export interface SubscribeOutcome {
  /** True when any shard had not held it for this session. */
  isNew: boolean;
  /** One page per shard that answered for the filter. */
  pages: RetainedPage[];
}

/** A session's answer to deliver(). */
export interface DeliverResult {
  /** Filters this session no longer holds: the shard forgets them. */
  stale: string[];
  /** False when the session has no live connection (shared subscriptions prefer online members). */
  online: boolean;
}

/**
 * Exactly the options a subscription keeps, with the off options left out: a caller's richer object (a
 * decoded SUBSCRIBE entry) never rides along into storage or RPC.
 */
export function subscriptionOptions(source: SubscriptionOptions): SubscriptionOptions {
  const options: SubscriptionOptions = { qos: source.qos };
  if (source.noLocal) options.noLocal = true;
  if (source.retainAsPublished) options.retainAsPublished = true;
  if (source.subscriptionIdentifier !== undefined) options.subscriptionIdentifier = source.subscriptionIdentifier;
  return options;
}

/** QoS of a forwarded copy: the lower of the message's and the subscription's [MQTT-3.8.4-6]. */
export function deliveryQoS(messageQoS: QoS, subscriptionQoS: QoS): QoS {
  return (messageQoS < subscriptionQoS ? messageQoS : subscriptionQoS) as QoS;
}
