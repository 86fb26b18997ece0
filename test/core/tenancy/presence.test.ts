import { describe, expect, it } from 'vitest';
import { bucketHasRoom, grantLease, leaseChunk, presenceBucketOf } from '../../../core/tenancy/presence.js';

describe('presence buckets and session leases', () => {
  it('spreads 5,000 client ids over 256 buckets so that no bucket takes more than 1% of the reports', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 5000; i++) counts[presenceBucketOf(`device-${i}`, 256)]!++;
    expect(Math.max(...counts)).toBeLessThanOrEqual(50);
    expect(presenceBucketOf('device-1', 256)).toBe(presenceBucketOf('device-1', 256));
  });

  it('never grants more than the limit leaves, whatever is asked', () => {
    expect(grantLease(10, 0, 4)).toBe(4);
    expect(grantLease(10, 8, 4)).toBe(2);
    expect(grantLease(10, 10, 4)).toBe(0);
    expect(grantLease(10, 12, 4)).toBe(0); // the limit was lowered below what is leased
  });

  it('asks for chunks that a small limit does not give all to one bucket', () => {
    expect(leaseChunk(2, 256)).toBe(1);
    expect(leaseChunk(10_000, 256)).toBe(39);
    expect(leaseChunk(1_000_000, 256)).toBe(64);
  });

  it('counts admitted CONNECTs not yet reported against the lease', () => {
    expect(bucketHasRoom(2, 1, 0)).toBe(true);
    expect(bucketHasRoom(2, 1, 1)).toBe(false);
    expect(bucketHasRoom(0, 0, 0)).toBe(false);
  });
});
