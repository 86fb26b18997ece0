// What happens to a batch its destination did not take: retried after an exponential back-off with jitter,
// or dead-lettered (counted, acknowledged, and the rule moves on) once it is out of attempts or too old, or
// at once when the receiver says the content itself is wrong.
//
//   attempt 1 fails → wait ~1 s, 2 → ~2 s, 3 → ~4 s … capped at maxDelayMs (5 min by default);
//   attempt maxAttempts fails, or the batch's first attempt is older than maxAgeMs → dead letter.
import { jitteredBackoff } from '../backoff.js';
import type { RetryPolicy } from './rule.js';

/** A failed attempt, as the destination reported it. */
export interface Failure {
  message: string;
  /** The HTTP status, when the receiver answered. */
  status?: number;
  /** A Retry-After the receiver asked for (429, 503), milliseconds. */
  retryAfterMs?: number;
}

export type FailureDecision = { action: 'retry'; at: number } | { action: 'dead-letter'; reason: string };

/**
 * Statuses that say the request itself is wrong: the same bytes will be refused again, so the batch is
 * dead-lettered at once. Every other status (401, 403, 404, 408, 429, 5xx) is a receiver that may be fixed
 * or recover: retried, so mending the receiver loses nothing.
 */
const PERMANENT_STATUSES = new Set([400, 413, 415, 422]);

export function isPermanentFailure(failure: Failure): boolean {
  return failure.status !== undefined && PERMANENT_STATUSES.has(failure.status);
}

/**
 * The wait after the `attempts`-th failed attempt: initialDelayMs × 2^(attempts − 1), capped at maxDelayMs,
 * then jittered to between half and all of it (core/backoff.ts). `random` is in [0, 1).
 */
export function backoffDelay(attempts: number, policy: RetryPolicy, random: number): number {
  return jitteredBackoff(attempts - 1, policy.initialDelayMs, policy.maxDelayMs, random);
}

/**
 * After attempt number `attempts` (1 = the first) of a batch first tried at `firstAttemptAt` failed at `now`:
 * retry when, or dead-letter why.
 */
export function afterFailure(attempts: number, firstAttemptAt: number, failure: Failure, policy: RetryPolicy, now: number, random: number): FailureDecision {
  if (isPermanentFailure(failure)) return { action: 'dead-letter', reason: `refused by the receiver (HTTP ${failure.status})` };
  if (attempts >= policy.maxAttempts) return { action: 'dead-letter', reason: `no success in ${attempts} attempt${attempts === 1 ? '' : 's'}` };
  if (now - firstAttemptAt >= policy.maxAgeMs) return { action: 'dead-letter', reason: `no success within ${Math.round(policy.maxAgeMs / 1000)} s` };
  // A receiver's Retry-After is honoured up to the policy's longest wait.
  const asked = Math.min(failure.retryAfterMs ?? 0, policy.maxDelayMs);
  return { action: 'retry', at: now + Math.max(backoffDelay(attempts, policy, random), asked) };
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
