// Where a tenant's session presence lives, and how its session limit is shared out, without one object that
// every CONNECT of the tenant meets (issue 11: the TenantDO on every CONNECT capped a tenant at ~330/s).
//
//   session (tenant, clientId) ──report──▶ presence bucket hash(clientId) mod PRESENCE_BUCKETS
//   CONNECT of a new client id, tenant with maxSessions ──admit──▶ its bucket: a slot of the bucket's lease
//   bucket out of slots ──lease──▶ TenantDO: grants from maxSessions − Σ leases (reclaims spare ones when empty)
//
// A bucket receives the reports of 1/PRESENCE_BUCKETS of the tenant's clients; the TenantDO sees one lease
// request per LEASE_CHUNK new sessions of a bucket, and none at all from a tenant without maxSessions.
import { shardOf } from '../routing/shard.js';

/** Default number of presence buckets per tenant: 5,000 connects put ~20 reports on each (created lazily). */
export const DEFAULT_PRESENCE_BUCKETS = 256;

/** The presence bucket of a client id, in [0, buckets): the same stable hash as topic shards. */
export function presenceBucketOf(clientId: string, buckets: number): number {
  return shardOf(clientId, buckets);
}

/**
 * Slots a bucket asks for when it has none left: enough that a storm of new sessions costs the tenant
 * object few calls, few enough that a small limit is not all held by one bucket (spare slots are reclaimed
 * when the tenant runs out anyway, so this only sets how often leases move).
 */
export function leaseChunk(maxSessions: number, buckets: number): number {
  return Math.max(1, Math.min(64, Math.floor(maxSessions / buckets)));
}

/** What the tenant grants a bucket asking for `want` slots: never more than the limit leaves. */
export function grantLease(maxSessions: number, leasedInTotal: number, want: number): number {
  return Math.max(0, Math.min(want, maxSessions - leasedInTotal));
}

/** A bucket's slots in use: its stored sessions plus admitted CONNECTs of new client ids not yet reported. */
export function bucketHasRoom(granted: number, stored: number, pending: number): boolean {
  return stored + pending < granted;
}
