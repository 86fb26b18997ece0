// The topic shard's SQLite tables, and the migrations that bring an older object's tables up to date.
import type { CountedSql } from '../invocation-counters.js';

/** One row as SQLite returns it. */
export type Row = Record<string, SqlStorageValue>;

export const SHARD_SCHEMA = `
CREATE TABLE IF NOT EXISTS subscriptions (
  filter TEXT NOT NULL,
  session TEXT NOT NULL,
  qos INTEGER NOT NULL,
  PRIMARY KEY (filter, session)
);
CREATE TABLE IF NOT EXISTS retained (
  topic TEXT PRIMARY KEY,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  properties TEXT
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS placement (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS split_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  a TEXT NOT NULL,
  b TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shard_list (
  idx INTEGER PRIMARY KEY
);
`;
/**
 * Changes since the first schema, each applied once, in order; `schema_version` holds how many ran. Tables
 * created by an earlier release keep working (SQLite has no ADD COLUMN IF NOT EXISTS).
 */
const MIGRATIONS: readonly string[] = [
  // 5.0 subscription options and message expiry.
  `ALTER TABLE subscriptions ADD COLUMN no_local INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE subscriptions ADD COLUMN retain_as_published INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE subscriptions ADD COLUMN subscription_identifier INTEGER;
   ALTER TABLE retained ADD COLUMN expires_at INTEGER;`,
  // Retained messages keyed by topic alone (WITHOUT ROWID): a TEXT primary key on a rowid table is a second
  // b-tree, and SQLite bills its entry as a second row written for every new retained topic [DESIGN §4].
  `CREATE TABLE retained_by_topic (
     topic TEXT PRIMARY KEY,
     payload BLOB NOT NULL,
     qos INTEGER NOT NULL,
     properties TEXT,
     expires_at INTEGER
   ) WITHOUT ROWID;
   INSERT INTO retained_by_topic (topic, payload, qos, properties, expires_at) SELECT topic, payload, qos, properties, expires_at FROM retained;
   DROP TABLE retained;
   ALTER TABLE retained_by_topic RENAME TO retained;`,
];

/** Applies the migrations this object's tables have not had yet, in one transaction. */
export function migrateShard(sql: CountedSql, storage: DurableObjectStorage): void {
  const applied = (sql.one<Row>('SELECT version FROM schema_version')?.version as number | undefined) ?? 0;
  if (applied >= MIGRATIONS.length) return;
  storage.transactionSync(() => {
    for (const migration of MIGRATIONS.slice(applied)) sql.run(migration);
    sql.run('DELETE FROM schema_version');
    sql.run('INSERT INTO schema_version (version) VALUES (?)', MIGRATIONS.length);
  });
}
