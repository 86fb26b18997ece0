// RateBucket: a token's publish rate, `rate` PUBLISH packets per second with one second of burst.
import { describe, expect, it } from 'vitest';
import { RateBucket } from '../../../core/tenancy/limits.js';

const T0 = 1_700_000_000_000;

/** How many takes succeed in a row at one instant. */
function drain(bucket: RateBucket, now: number, limit = 1000): number {
  let taken = 0;
  while (taken < limit && bucket.take(now)) taken++;
  return taken;
}

describe('RateBucket', () => {
  it('[DESIGN §5] the module\'s worked example: rate 2 allows two at once, refuses the third, and one more half a second later', () => {
    const bucket = new RateBucket(2, T0);
    expect(bucket.take(T0)).toBe(true);
    expect(bucket.take(T0)).toBe(true);
    expect(bucket.take(T0)).toBe(false);
    expect(bucket.take(T0 + 500)).toBe(true);
    expect(bucket.take(T0 + 500)).toBe(false);
  });

  it.each([1, 2, 10, 100])('[DESIGN §5] a new bucket of rate %i allows a burst of exactly that many', (rate) => {
    expect(drain(new RateBucket(rate, T0), T0)).toBe(rate);
  });

  it('[DESIGN §5] a refused take costs nothing: the next token arrives on time', () => {
    const bucket = new RateBucket(1, T0);
    expect(bucket.take(T0)).toBe(true);
    for (const ms of [100, 500, 999]) expect(bucket.take(T0 + ms)).toBe(false);
    expect(bucket.take(T0 + 1000)).toBe(true);
  });

  it.each([
    [10, 100, 1],
    [10, 250, 2],
    [10, 500, 5],
    [10, 999, 9],
    [4, 750, 3],
    [1, 999, 0],
  ])('[DESIGN §5] rate %i refills in proportion to the time elapsed: %i ms after draining, %i more', (rate, elapsed, refilled) => {
    const bucket = new RateBucket(rate, T0);
    drain(bucket, T0);
    expect(drain(bucket, T0 + elapsed)).toBe(refilled);
  });

  it('[DESIGN §5] fractions of a token carry over between takes', () => {
    const bucket = new RateBucket(10, T0);
    drain(bucket, T0);
    expect(drain(bucket, T0 + 50)).toBe(0); // 0.5 token
    expect(drain(bucket, T0 + 100)).toBe(1); // 1.0
    expect(drain(bucket, T0 + 150)).toBe(0); // 0.5
    expect(drain(bucket, T0 + 200)).toBe(1); // 1.0
  });

  it.each([
    [3, 10_000],
    [3, 1_000_000_000],
    [1, 60_000],
  ])('[DESIGN §5] rate %i never holds more than its rate, however long it was idle (%i ms)', (rate, idle) => {
    const bucket = new RateBucket(rate, T0);
    expect(drain(bucket, T0 + idle)).toBe(rate);
  });

  it('[DESIGN §5] a steady publisher at the rate is never refused, one faster is held to the rate', () => {
    const steady = new RateBucket(5, T0);
    drain(steady, T0);
    for (let i = 1; i <= 50; i++) expect(steady.take(T0 + i * 200)).toBe(true);

    const fast = new RateBucket(5, T0);
    drain(fast, T0);
    let accepted = 0;
    for (let i = 1; i <= 100; i++) if (fast.take(T0 + i * 100)) accepted++;
    expect(accepted).toBe(50); // 10 s at 5/s
  });
});
