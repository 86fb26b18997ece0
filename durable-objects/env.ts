// Bindings and variables the Worker and every Durable Object receive (see wrangler.toml).
import type { SessionDO } from '../durable-objects/session-do.js';
import type { TopicShardDO } from '../durable-objects/topic-shard-do.js';
import type { TenantDO } from '../durable-objects/tenant-do.js';
import type { TokenDO } from '../durable-objects/token-do.js';
import type { PresenceDO } from '../durable-objects/presence-do.js';
import type { FanoutDO } from '../durable-objects/fanout-do.js';
import type { CombinerDO } from '../durable-objects/combiner-do.js';
import type { WildcardDO } from '../durable-objects/wildcard-do.js';
import type { EventLogDO } from '../durable-objects/event-log-do.js';
import type { BridgeDO } from '../durable-objects/bridge-do.js';
import type { RuleDO } from '../durable-objects/rule-do.js';

export interface Env {
  SESSION: DurableObjectNamespace<SessionDO>;
  SHARD: DurableObjectNamespace<TopicShardDO>;
  TENANT: DurableObjectNamespace<TenantDO>;
  TOKEN: DurableObjectNamespace<TokenDO>;
  PRESENCE: DurableObjectNamespace<PresenceDO>;
  FANOUT: DurableObjectNamespace<FanoutDO>;
  COMBINER: DurableObjectNamespace<CombinerDO>;
  WILDCARD: DurableObjectNamespace<WildcardDO>;
  EVENT_LOG: DurableObjectNamespace<EventLogDO>;
  /** A tenant's bridges to other brokers, all in one object per tenant. */
  BRIDGES: DurableObjectNamespace<BridgeDO>;
  /** A tenant's rules (topic filter → webhook or queue), all in one object per tenant. */
  RULES: DurableObjectNamespace<RuleDO>;
  /** Log shards per tenant (core/tenancy/event-log.ts); fixed once deployed. */
  LOG_SHARDS?: string;
  HOT_TOPIC_RATE?: string;
  HOT_TOPIC_COMBINERS?: string;
  ASSETS?: Fetcher;
  SHARD_COUNT?: string;
  /** Wildcard homes per tenant (core/routing/wildcard-homes.ts); fixed once deployed, like SHARD_COUNT. */
  WILDCARD_HOMES?: string;
  PRESENCE_BUCKETS?: string;
  SPLIT_SUBSCRIPTIONS?: string;
  SPLIT_PUBLISH_RATE?: string;
  MAX_KEEPALIVE?: string;
  CONNECT_TIMEOUT?: string;
  PACKET_TIMEOUT?: string;
  MAX_PACKET_SIZE?: string;
  MAX_INFLIGHT?: string;
  MAX_QUEUED?: string;
  MAX_QUEUED_ONLINE?: string;
  MAX_QUEUED_BYTES?: string;
  MAX_FILTERS_PER_SUBSCRIBE?: string;
  MAX_SUBSCRIPTIONS?: string;
  MAX_RETAINED?: string;
  MAX_RETAINED_BYTES?: string;
  RETAINED_PAGE?: string;
  RETAINED_PAGE_BYTES?: string;
  RECEIVE_MAXIMUM?: string;
  ALLOW_ANONYMOUS?: string;
  /**
   * "true" in local development and tests only: local workerd has no Durable Object jurisdictions, so a
   * jurisdiction's objects are kept apart in the global namespace by a name prefix instead (addresses.ts).
   */
  EMULATE_JURISDICTIONS?: string;
  /** Comma-separated origins browsers may open /mqtt from; empty = any. */
  ALLOWED_ORIGINS?: string;
  ADMIN_TOKEN?: string;
  /** Seconds between $SYS updates while someone receives them. */
  SYS_INTERVAL?: string;
  /** Seconds a will waits after a platform restart dropped its connection; a reconnect in time cancels it. */
  WILL_GRACE_AFTER_RESTART?: string;
  /** Ordinary copies of one message past which a shard fans out through relays (FanoutDO). */
  FANOUT_THRESHOLD?: string;
  /** Bounds of every in-memory outbox (items, bytes held) and of one call's bytes. */
  OUTBOX_MAX_ITEMS?: string;
  OUTBOX_MAX_BYTES?: string;
  OUTBOX_BATCH_BYTES?: string;
  /** Seconds between the bridges' watchdog alarms (reconnect what is down, save counters); default 30. */
  BRIDGE_WATCHDOG_SECONDS?: string;
}
