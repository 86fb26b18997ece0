// A tenant's statistics over time, merged from where they are counted: its log shards (connects, disconnects,
// auth failures, kicks, limit hits, token changes) and its topic shards (messages and bytes in and out, per
// publisher token), each with its own requests and rows.
import { mergeCounts, minuteOf, splitCounts, type Counts } from '../../core/tenancy/event-log.js';
import { logStub, shardStub } from '../addresses.js';
import { brokerConfig } from '../config.js';
import type { Env } from '../env.js';
import { shardIndexes } from '../shard-router.js';

/** One minute of the tenant's history (minute: ms since the epoch / 60,000). */
export interface HistoryPoint {
  minute: number;
  counts: Counts;
}

function logShards(env: Env): number[] {
  return Array.from({ length: brokerConfig(env).logShards }, (_, index) => index);
}

/** Everything the log shards counted since the tenant began (limit hits by name: "limit:NAME"). */
export async function tenantTotals(env: Env, tenant: string): Promise<Counts> {
  const totals = await Promise.all(logShards(env).map((shard) => logStub(env, tenant, shard).totals()));
  return totals.reduce((sum, counts) => mergeCounts(sum, counts), {});
}

/**
 * The last `minutes` minutes up to now, one point per minute (zeros where nothing happened), the tenant's
 * counts per minute, and each token's usage over the whole window.
 */
export async function tenantHistory(env: Env, tenant: string, minutes: number, now = Date.now()): Promise<{ from: number; points: HistoryPoint[]; tokens: Record<string, Counts> }> {
  const to = minuteOf(now);
  const from = to - minutes + 1;
  const indexes = await shardIndexes(env, tenant);
  const sources = await Promise.all([
    ...logShards(env).map((shard) => logStub(env, tenant, shard).history(from)),
    ...indexes.map((index) => shardStub(env, tenant, index).history(from)),
  ]);
  const byMinute = new Map<number, Counts>();
  for (const rows of sources) for (const { minute, counts } of rows) byMinute.set(minute, mergeCounts(byMinute.get(minute) ?? {}, counts));
  const points: HistoryPoint[] = [];
  const tokens: Record<string, Counts> = {};
  for (let minute = from; minute <= to; minute++) {
    const { tenant: counts, tokens: perToken } = splitCounts(byMinute.get(minute) ?? {});
    points.push({ minute, counts });
    for (const [tokenId, usage] of Object.entries(perToken)) tokens[tokenId] = mergeCounts(tokens[tokenId] ?? {}, usage);
  }
  return { from, points, tokens };
}
