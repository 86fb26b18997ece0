// TenantDO: per-tenant facts no single session or shard owns: live sessions and the $SYS statistics.
import { brokerConfig } from '../worker/config.js';
import type { Env } from '../worker/env.js';
import { BROKER_VERSION } from '../worker/version.js';
import { shardStub } from './addresses.js';
import { ShardRouter } from './shard-router.js';
import { sysMessages, type BrokerStatistics } from './sys-topics.js';
import { CountedObject } from './counted-object.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenant (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS live_sessions (client_id TEXT PRIMARY KEY, connected_at INTEGER NOT NULL);
`;
/** How often $SYS topics are republished while anyone receives them (mosquitto's sys_interval is 10 s). */
const DEFAULT_SYS_INTERVAL_MS = 10_000;

type Row = Record<string, SqlStorageValue>;

export class TenantDO extends CountedObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
  }

  /** A session reports its connection opening or closing (feeds clients/connected). */
  async sessionPresence(tenant: string, clientId: string, connected: boolean): Promise<void> {
    this.invocations.rpc++;
    this.remember(tenant);
    if (connected) {
      this.sql.run(
        'INSERT INTO live_sessions (client_id, connected_at) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET connected_at = excluded.connected_at',
        clientId,
        Date.now(),
      );
    } else {
      this.sql.run('DELETE FROM live_sessions WHERE client_id = ?', clientId);
    }
  }

  /** Someone subscribed to $SYS: publish now and keep publishing while anyone receives them. */
  async wantSys(tenant: string): Promise<void> {
    this.invocations.rpc++;
    this.remember(tenant);
    const next = await this.ctx.storage.getAlarm();
    if (next === null) await this.ctx.storage.setAlarm(Date.now());
  }

  async statistics(): Promise<BrokerStatistics> {
    const tenant = this.tenantRow();
    const clientsConnected = (this.sql.one<Row>('SELECT COUNT(*) AS n FROM live_sessions')?.n as number) ?? 0;
    const stats: BrokerStatistics = {
      version: BROKER_VERSION,
      uptimeSeconds: tenant ? Math.floor((Date.now() - tenant.createdAt) / 1000) : 0,
      clientsConnected,
      messagesReceived: 0,
      messagesSent: 0,
      subscriptions: 0,
      retained: 0,
    };
    if (!tenant) return stats;
    const shardCount = brokerConfig(this.env).shardCount;
    const shards = await Promise.all(
      Array.from({ length: shardCount }, (_, index) => shardStub(this.env, tenant.name, index).statistics()),
    );
    shards.forEach((shard, index) => {
      stats.messagesReceived += shard.messagesReceived;
      stats.messagesSent += shard.messagesSent;
      stats.retained += shard.retained;
      // A wildcard subscription is replicated to every shard: count it once.
      stats.subscriptions += shard.exactSubscriptions + (index === 0 ? shard.wildcardSubscriptions : 0);
    });
    return stats;
  }

  /** One alarm drives $SYS: publish, and stop once a round reaches nobody. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    const tenant = this.tenantRow();
    if (!tenant) return;
    const stats = await this.statistics();
    const router = new ShardRouter(this.env, tenant.name, brokerConfig(this.env).shardCount);
    const encoder = new TextEncoder();
    const reached = await Promise.all(
      sysMessages(stats).map(([topic, value]) => router.publishCounted({ topic, payload: encoder.encode(value), qos: 0, retain: true })),
    );
    if (reached.some((count) => count > 0)) {
      await this.ctx.storage.setAlarm(Date.now() + sysIntervalMs(this.env));
    }
  }

  private remember(tenant: string): void {
    this.sql.run('INSERT OR IGNORE INTO tenant (id, name, created_at) VALUES (1, ?, ?)', tenant, Date.now());
  }

  private tenantRow(): { name: string; createdAt: number } | undefined {
    const row = this.sql.one<Row>('SELECT name, created_at FROM tenant WHERE id = 1');
    return row ? { name: row.name as string, createdAt: row.created_at as number } : undefined;
  }
}

function sysIntervalMs(env: Env): number {
  const seconds = Number(env.SYS_INTERVAL);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_SYS_INTERVAL_MS;
}
