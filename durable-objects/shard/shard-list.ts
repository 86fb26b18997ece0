// Shard 0's list of its tenant's shards: every child a split created, registered once (base shards implied).
import type { CountedSql } from '../invocation-counters.js';
import type { Row } from './schema.js';

/** Adds a child to the list (idempotent: a registration resent after a crash changes nothing). */
export function addShard(sql: CountedSql, index: number): void {
  sql.run('INSERT INTO shard_list (idx) VALUES (?) ON CONFLICT (idx) DO NOTHING', index);
}

/** Every shard of the tenant, ascending: the `shardCount` base ones and every registered child. */
export function listShards(sql: CountedSql, shardCount: number): number[] {
  const indexes = new Set(Array.from({ length: shardCount }, (_, i) => i));
  for (const row of sql.all<Row>('SELECT idx FROM shard_list')) indexes.add(row.idx as number);
  return [...indexes].sort((a, b) => a - b);
}
