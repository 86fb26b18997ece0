// Limits hit, counted by name in SQLite by the object that decided them: the tenant (tokens, HTTP publish rate,
// and what its tokens forward), a token's own object (client ids, connections), a presence bucket (sessions).
import type { CountedSql } from './invocation-counters.js';

export const LIMIT_HITS_SCHEMA = 'CREATE TABLE IF NOT EXISTS limit_hits (name TEXT PRIMARY KEY, count INTEGER NOT NULL);';

export class LimitHits {
  constructor(private readonly sql: CountedSql) {}

  add(name: string, count = 1): void {
    this.sql.run('INSERT INTO limit_hits (name, count) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET count = count + excluded.count', name, count);
  }

  read(): Record<string, number> {
    return Object.fromEntries(this.sql.all<Record<string, SqlStorageValue>>('SELECT name, count FROM limit_hits').map((row) => [row.name as string, row.count as number]));
  }

  clear(): void {
    this.sql.run('DELETE FROM limit_hits');
  }
}
