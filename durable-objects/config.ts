// Broker settings from wrangler.toml [vars], parsed once per isolate with safe defaults.
import { PLATFORM_LOSS_GRACE, TOPIC_ALIAS_MAXIMUM, type SessionConfig } from '../core/session/state.js';
import type { Env } from './env.js';
import { DEFAULT_PRESENCE_BUCKETS } from '../core/tenancy/presence.js';
import { DEFAULT_LOG_SHARDS } from '../core/tenancy/event-log.js';
import { DEFAULT_SPLIT_THRESHOLDS, type SplitThresholds } from '../core/routing/shard-layout.js';
import { DEFAULT_WILDCARD_HOMES } from '../core/routing/wildcard-homes.js';

export interface BrokerConfig {
  shardCount: number;
  /** Wildcard homes per tenant (WILDCARD_HOMES, core/routing/wildcard-homes.ts). */
  wildcardHomes: number;
  /** Exact subscriptions and publish rate past which a topic shard splits (SPLIT_SUBSCRIPTIONS, SPLIT_PUBLISH_RATE). */
  splitThresholds: SplitThresholds;
  /** Presence buckets per tenant (core/tenancy/presence.ts). */
  presenceBuckets: number;
  /** Log shards per tenant (core/tenancy/event-log.ts); fixed once deployed (events of a client id live in one). */
  logShards: number;
  /** Messages per second at which a topic counts as hot and its publishers go through combiners. */
  hotTopicRate: number;
  /** Combiners per shard a hot topic's publishers spread over (core/routing/hot-topics.ts). */
  hotTopicCombiners: number;
  maximumKeepAlive: number;
  connectTimeoutMs: number;
  /** Time a packet may take from its first byte to its last: a half-sent packet cannot hold memory forever. */
  packetTimeoutMs: number;
  maximumPacketSize: number;
  maximumInflight: number;
  /** 5.0 Receive Maximum we announce and enforce for a client's unacknowledged QoS 1/2 publishes. */
  receiveMaximum: number;
  maximumQueued: number;
  /** Messages queued per session while its client is connected (MAX_QUEUED_ONLINE). */
  maximumQueuedOnline: number;
  /** Payload bytes queued per session; the oldest messages are dropped past it. */
  maximumQueuedBytes: number;
  /** Filters one SUBSCRIBE may carry: the rest are refused with 0x97 / 0x80. */
  maximumFiltersPerSubscribe: number;
  /** Subscriptions one session may hold (a token's maxSubscriptions may lower it). */
  maximumSubscriptions: number;
  /** Retained topics per tenant when the tenant sets no maxRetained; each shard holds its share. */
  maximumRetained: number;
  /** Retained payload bytes per tenant; each shard holds its share. */
  maximumRetainedBytes: number;
  /** Retained messages and payload bytes one round of a SUBSCRIBE's retained replay reads from the shards. */
  retainedPage: number;
  retainedPageBytes: number;
  /**
   * Ordinary copies of one message past which a shard hands them to relay objects (FanoutDO), chunks of at
   * most this many sessions each: a shard makes about n / threshold calls per message, not n.
   */
  fanoutThreshold: number;
  /** Items and bytes (payload + topic) one in-memory outbox holds, queued or in flight; past them QoS 0 copies are dropped and QoS 1/2 publishes refused. */
  outboxMaximumItems: number;
  outboxMaximumBytes: number;
  /** Bytes one call of an outbox carries at most (one larger item still goes, alone). */
  outboxBatchBytes: number;
  allowAnonymous: boolean;
  /** Origins a browser may open /mqtt from (ALLOWED_ORIGINS); null = any. Clients sending no Origin pass. */
  allowedOrigins: readonly string[] | null;
  /** Seconds a will waits after the platform, not the client, lost the connection (WILL_GRACE_AFTER_RESTART). */
  willGraceAfterRestart: number;
}

function positiveInt(raw: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(raw);
  return Number.isInteger(value) && value > 0 ? Math.min(value, max) : fallback;
}

/** The largest MAX_PACKET_SIZE honoured: a 2 MB row less room for the topic, properties and other columns. */
export const MAXIMUM_STORABLE_PACKET = 1_900_000;

const cache = new WeakMap<object, BrokerConfig>();

/** The broker configuration for this environment. */
export function brokerConfig(env: Env): BrokerConfig {
  let config = cache.get(env);
  if (!config) {
    config = {
      shardCount: positiveInt(env.SHARD_COUNT, 4, 256),
      wildcardHomes: positiveInt(env.WILDCARD_HOMES, DEFAULT_WILDCARD_HOMES, 256),
      splitThresholds: {
        subscriptions: positiveInt(env.SPLIT_SUBSCRIPTIONS, DEFAULT_SPLIT_THRESHOLDS.subscriptions),
        rate: positiveInt(env.SPLIT_PUBLISH_RATE, DEFAULT_SPLIT_THRESHOLDS.rate),
      },
      presenceBuckets: positiveInt(env.PRESENCE_BUCKETS, DEFAULT_PRESENCE_BUCKETS, 4096),
      logShards: positiveInt(env.LOG_SHARDS, DEFAULT_LOG_SHARDS, 256),
      hotTopicRate: positiveInt(env.HOT_TOPIC_RATE, 200),
      hotTopicCombiners: positiveInt(env.HOT_TOPIC_COMBINERS, 16, 1024),
      maximumKeepAlive: positiveInt(env.MAX_KEEPALIVE, 60, 65535),
      connectTimeoutMs: positiveInt(env.CONNECT_TIMEOUT, 10) * 1000,
      packetTimeoutMs: positiveInt(env.PACKET_TIMEOUT, 60) * 1000,
      // A QoS 1/2 message is a row in a subscriber's SQLite before it is acknowledged, and a Durable Object
      // row holds at most 2 MB: a larger packet could never be stored, so it is never accepted.
      maximumPacketSize: positiveInt(env.MAX_PACKET_SIZE, 1_048_576, MAXIMUM_STORABLE_PACKET),
      maximumInflight: positiveInt(env.MAX_INFLIGHT, 100, 65535),
      receiveMaximum: positiveInt(env.RECEIVE_MAXIMUM, 1024, 65535),
      maximumQueued: positiveInt(env.MAX_QUEUED, 10_000),
      maximumQueuedOnline: positiveInt(env.MAX_QUEUED_ONLINE, 100_000),
      maximumQueuedBytes: positiveInt(env.MAX_QUEUED_BYTES, 16 * 1024 * 1024),
      maximumFiltersPerSubscribe: positiveInt(env.MAX_FILTERS_PER_SUBSCRIBE, 100),
      maximumSubscriptions: positiveInt(env.MAX_SUBSCRIPTIONS, 1000),
      maximumRetained: positiveInt(env.MAX_RETAINED, 10_000),
      maximumRetainedBytes: positiveInt(env.MAX_RETAINED_BYTES, 64 * 1024 * 1024),
      retainedPage: positiveInt(env.RETAINED_PAGE, 1000),
      retainedPageBytes: positiveInt(env.RETAINED_PAGE_BYTES, 4 * 1024 * 1024),
      fanoutThreshold: positiveInt(env.FANOUT_THRESHOLD, 1000),
      outboxMaximumItems: positiveInt(env.OUTBOX_MAX_ITEMS, 10_000),
      outboxMaximumBytes: positiveInt(env.OUTBOX_MAX_BYTES, 32 * 1024 * 1024),
      outboxBatchBytes: positiveInt(env.OUTBOX_BATCH_BYTES, 4 * 1024 * 1024),
      allowAnonymous: env.ALLOW_ANONYMOUS === 'true',
      allowedOrigins: originList(env.ALLOWED_ORIGINS),
      willGraceAfterRestart: nonNegativeInt(env.WILL_GRACE_AFTER_RESTART, PLATFORM_LOSS_GRACE, 86_400),
    };
    cache.set(env, config);
  }
  return config;
}

/** Like positiveInt, but 0 is a value (a grace of 0 publishes a will as soon as its own delay allows). */
function nonNegativeInt(raw: string | undefined, fallback: number, max: number): number {
  const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  return Number.isInteger(value) && value >= 0 ? Math.min(value, max) : fallback;
}

function originList(raw: string | undefined): readonly string[] | null {
  const origins = (raw ?? '')
    .split(',')
    .map((origin) => origin.trim().replace(/\/$/, ''))
    .filter(Boolean);
  return origins.length === 0 || origins.includes('*') ? null : origins;
}

/** What the session state machine needs of the configuration. */
export function sessionConfig(config: BrokerConfig): SessionConfig {
  return {
    maximumInflight: config.maximumInflight,
    receiveMaximum: config.receiveMaximum,
    maximumPacketSize: config.maximumPacketSize,
    maximumQueued: config.maximumQueued,
    maximumQueuedOnline: config.maximumQueuedOnline,
    maximumQueuedBytes: config.maximumQueuedBytes,
    maximumFiltersPerSubscribe: config.maximumFiltersPerSubscribe,
    maximumSubscriptions: config.maximumSubscriptions,
    topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    shardCount: config.shardCount,
    platformLossGrace: config.willGraceAfterRestart,
  };
}

/** The bounds every in-memory outbox takes from the configuration (core/routing/coalescing-outbox.ts). */
export function outboxBounds(config: BrokerConfig): { maximumItems: number; maximumBytes: number; maximumBatchBytes: number } {
  return { maximumItems: config.outboxMaximumItems, maximumBytes: config.outboxMaximumBytes, maximumBatchBytes: config.outboxBatchBytes };
}
