// The sessions API's pages, read from the tenant's presence buckets (durable-objects/presence-do.ts): in
// bucket order, then client id order, with a cursor `bucket:clientId`. No session object wakes unless the
// caller asks for details, and then only the page's. A search (client ids containing a string) is applied by
// each bucket as it scans, so a page holds `limit` matches, not `limit` sessions filtered afterwards.
import { presenceStub } from '../../durable-objects/addresses.js';
import type { Env } from '../../durable-objects/env.js';
import type { PresenceEntry } from '../../durable-objects/presence-do.js';

/** Buckets asked at once while a page fills. */
const BUCKETS_AT_ONCE = 16;

/** Parses `bucket:clientId`; undefined when it is not one of ours. */
export function parseSessionCursor(cursor: string, buckets: number): { bucket: number; after: string } | undefined {
  const match = /^(\d+):(.*)$/s.exec(cursor);
  if (!match) return undefined;
  const bucket = Number(match[1]);
  return bucket < buckets ? { bucket, after: match[2]! } : undefined;
}

export async function sessionsPage(
  env: Env,
  tenant: string,
  buckets: number,
  from: { bucket: number; after: string },
  limit: number,
  search = '',
): Promise<{ sessions: PresenceEntry[]; next: string | null }> {
  const sessions: PresenceEntry[] = [];
  for (let first = from.bucket; first < buckets; first += BUCKETS_AT_ONCE) {
    const group = Array.from({ length: Math.min(BUCKETS_AT_ONCE, buckets - first) }, (_, i) => first + i);
    const wanted = limit - sessions.length;
    const pages = await Promise.all(group.map((bucket) => presenceStub(env, tenant, bucket).page(bucket === from.bucket ? from.after : '', wanted, search)));
    for (const [i, page] of pages.entries()) {
      for (const entry of page) {
        sessions.push(entry);
        // Full: more may follow (the next page may turn out empty); it starts after this entry.
        if (sessions.length === limit) return { sessions, next: `${group[i]!}:${entry.clientId}` };
      }
    }
  }
  return { sessions, next: null };
}
