// A tenant's bridges in its BridgeDO's SQLite: the configuration, the password (written, read only to
// connect, never returned), the filters each side's persistent session holds, and the last saved status.
// One row per bridge; counters are saved with the status now and then, never a row per message.
import type { BridgeConfig } from '../../core/bridge/config.js';
import type { BridgeStatus } from '../../core/bridge/status.js';
import type { CountedSql } from '../invocation-counters.js';

export const BRIDGE_SCHEMA = `
CREATE TABLE IF NOT EXISTS bridges (
  name TEXT PRIMARY KEY,
  config TEXT NOT NULL,
  password TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  status TEXT,
  subscribed TEXT
);`;

/** Filters the bridge's sessions hold on each side: what a new configuration must unsubscribe. */
export interface Subscribed {
  local: string[];
  remote: string[];
}

export interface StoredBridge {
  config: BridgeConfig;
  password: string | undefined;
  createdAt: number;
  updatedAt: number;
  /** Counters and history as last saved (the state itself is not: it is what the object is doing now). */
  status: Partial<BridgeStatus> | undefined;
  subscribed: Subscribed;
}

type Row = { name: string; config: string; password: string | null; created_at: number; updated_at: number; status: string | null; subscribed: string | null };

export class BridgeStore {
  constructor(private readonly sql: CountedSql) {}

  all(): StoredBridge[] {
    return this.sql.all<Row>('SELECT * FROM bridges ORDER BY name').map(fromRow);
  }

  count(): number {
    return this.sql.one<{ n: number }>('SELECT COUNT(*) AS n FROM bridges')?.n ?? 0;
  }

  save(bridge: StoredBridge): void {
    this.sql.run(
      `INSERT INTO bridges (name, config, password, created_at, updated_at, status, subscribed) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET config = excluded.config, password = excluded.password, updated_at = excluded.updated_at`,
      bridge.config.name,
      JSON.stringify(bridge.config),
      bridge.password ?? null,
      bridge.createdAt,
      bridge.updatedAt,
      bridge.status ? JSON.stringify(bridge.status) : null,
      JSON.stringify(bridge.subscribed),
    );
  }

  saveStatus(name: string, status: BridgeStatus): void {
    this.sql.run('UPDATE bridges SET status = ? WHERE name = ?', JSON.stringify(status), name);
  }

  saveSubscribed(name: string, subscribed: Subscribed): void {
    this.sql.run('UPDATE bridges SET subscribed = ? WHERE name = ?', JSON.stringify(subscribed), name);
  }

  delete(name: string): boolean {
    const existed = this.sql.one<{ n: number }>('SELECT COUNT(*) AS n FROM bridges WHERE name = ?', name)?.n === 1;
    this.sql.run('DELETE FROM bridges WHERE name = ?', name);
    return existed;
  }
}

function fromRow(row: Row): StoredBridge {
  return {
    config: JSON.parse(row.config) as BridgeConfig,
    password: row.password ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    status: row.status ? (JSON.parse(row.status) as Partial<BridgeStatus>) : undefined,
    subscribed: row.subscribed ? (JSON.parse(row.subscribed) as Subscribed) : { local: [], remote: [] },
  };
}
