// The retry schedule: exponential back-off with equal jitter, capped; dead letter by attempts, age or a
// permanent status; Retry-After honoured up to the cap.
import { describe, expect, it } from 'vitest';
import { afterFailure, backoffDelay, isPermanentFailure, parseRetryAfter } from '../../../core/rules/retry.js';
import { DEFAULT_RETRY } from '../../../core/rules/rule.js';

const policy = { maxAttempts: 5, maxAgeMs: 60_000, initialDelayMs: 1000, maxDelayMs: 8000 };

describe('backoffDelay', () => {
  it('doubles per attempt from initialDelayMs, between half and all of it', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, 0.999999))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('is capped at maxDelayMs however many attempts', () => {
    expect(backoffDelay(6, policy, 0.999999)).toBe(8000);
    expect(backoffDelay(1000, policy, 0.999999)).toBe(8000);
  });

  it('the default schedule goes from about 1 s to at most 5 min', () => {
    expect(backoffDelay(1, DEFAULT_RETRY, 0.999999)).toBe(1000);
    expect(backoffDelay(9, DEFAULT_RETRY, 0.999999)).toBe(256_000);
    expect(backoffDelay(10, DEFAULT_RETRY, 0.999999)).toBe(300_000);
  });
});

describe('afterFailure', () => {
  it('retries after the back-off', () => {
    expect(afterFailure(1, 0, { message: 'HTTP 500', status: 500 }, policy, 100, 0)).toEqual({ action: 'retry', at: 600 });
  });

  it('dead-letters after maxAttempts', () => {
    expect(afterFailure(5, 0, { message: 'x' }, policy, 100, 0)).toEqual({ action: 'dead-letter', reason: 'no success in 5 attempts' });
  });

  it('dead-letters a batch first tried more than maxAgeMs ago', () => {
    expect(afterFailure(2, 0, { message: 'x' }, policy, 60_000, 0)).toEqual({ action: 'dead-letter', reason: 'no success within 60 s' });
  });

  it.each([400, 413, 415, 422])('dead-letters at once on HTTP %i (the content is refused)', (status) => {
    expect(afterFailure(1, 0, { message: 'x', status }, policy, 0, 0)).toMatchObject({ action: 'dead-letter' });
    expect(isPermanentFailure({ message: 'x', status })).toBe(true);
  });

  it.each([401, 403, 404, 408, 429, 500, 502, 503])('retries HTTP %i (a receiver that may be mended or recover)', (status) => {
    expect(afterFailure(1, 0, { message: 'x', status }, policy, 0, 0)).toMatchObject({ action: 'retry' });
  });

  it('honours Retry-After when longer than the back-off, up to maxDelayMs', () => {
    expect(afterFailure(1, 0, { message: 'x', status: 429, retryAfterMs: 3000 }, policy, 0, 0)).toEqual({ action: 'retry', at: 3000 });
    expect(afterFailure(1, 0, { message: 'x', status: 429, retryAfterMs: 600_000 }, policy, 0, 0)).toEqual({ action: 'retry', at: 8000 });
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('5', 0)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});
