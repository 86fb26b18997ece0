// Broker settings from wrangler.toml [vars], parsed once per isolate with safe defaults.
import { TOPIC_ALIAS_MAXIMUM, type SessionConfig } from '../core/session/state.js';
import type { Env } from './env.js';

export interface BrokerConfig {
  shardCount: number;
  maximumKeepAlive: number;
  connectTimeoutMs: number;
  maximumPacketSize: number;
  maximumInflight: number;
  /** 5.0 Receive Maximum we announce and enforce for a client's unacknowledged QoS 1/2 publishes. */
  receiveMaximum: number;
  maximumQueued: number;
  allowAnonymous: boolean;
}

function positiveInt(raw: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(raw);
  return Number.isInteger(value) && value > 0 ? Math.min(value, max) : fallback;
}

const cache = new WeakMap<object, BrokerConfig>();

/** The broker configuration for this environment. */
export function brokerConfig(env: Env): BrokerConfig {
  let config = cache.get(env);
  if (!config) {
    config = {
      shardCount: positiveInt(env.SHARD_COUNT, 4, 256),
      maximumKeepAlive: positiveInt(env.MAX_KEEPALIVE, 60, 65535),
      connectTimeoutMs: positiveInt(env.CONNECT_TIMEOUT, 10) * 1000,
      // 268,435,455 is the largest remaining length MQTT can express; WebSocket messages stop at 32 MiB.
      maximumPacketSize: positiveInt(env.MAX_PACKET_SIZE, 1_048_576, 32 * 1024 * 1024),
      maximumInflight: positiveInt(env.MAX_INFLIGHT, 100, 65535),
      receiveMaximum: positiveInt(env.RECEIVE_MAXIMUM, 1024, 65535),
      maximumQueued: positiveInt(env.MAX_QUEUED, 1000),
      allowAnonymous: env.ALLOW_ANONYMOUS === 'true',
    };
    cache.set(env, config);
  }
  return config;
}

/** What the session state machine needs of the configuration. */
export function sessionConfig(config: BrokerConfig): SessionConfig {
  return {
    maximumInflight: config.maximumInflight,
    receiveMaximum: config.receiveMaximum,
    maximumPacketSize: config.maximumPacketSize,
    maximumQueued: config.maximumQueued,
    topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    shardCount: config.shardCount,
  };
}
