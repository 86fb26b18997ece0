// Bindings and variables the Worker and every Durable Object receive (see wrangler.toml).
import type { SessionDO } from '../durable-objects/session-do.js';
import type { TopicShardDO } from '../durable-objects/topic-shard-do.js';
import type { TenantDO } from '../durable-objects/tenant-do.js';

export interface Env {
  SESSION: DurableObjectNamespace<SessionDO>;
  SHARD: DurableObjectNamespace<TopicShardDO>;
  TENANT: DurableObjectNamespace<TenantDO>;
  ASSETS?: Fetcher;
  SHARD_COUNT?: string;
  MAX_KEEPALIVE?: string;
  CONNECT_TIMEOUT?: string;
  PACKET_TIMEOUT?: string;
  MAX_PACKET_SIZE?: string;
  MAX_INFLIGHT?: string;
  MAX_QUEUED?: string;
  MAX_QUEUED_BYTES?: string;
  MAX_FILTERS_PER_SUBSCRIBE?: string;
  MAX_SUBSCRIPTIONS?: string;
  MAX_RETAINED?: string;
  MAX_RETAINED_BYTES?: string;
  RETAINED_PAGE?: string;
  RETAINED_PAGE_BYTES?: string;
  RECEIVE_MAXIMUM?: string;
  ALLOW_ANONYMOUS?: string;
  /** Comma-separated origins browsers may open /mqtt from; empty = any. */
  ALLOWED_ORIGINS?: string;
  ADMIN_TOKEN?: string;
  /** Seconds between $SYS updates while someone receives them. */
  SYS_INTERVAL?: string;
}
