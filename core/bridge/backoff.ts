// When a bridge that lost (or never got) its connection tries again (core/backoff.ts), so bridges of many
// tenants cut off by one outage do not all knock on the remote at the same instant.
//
//   attempt   0     1     2     3     4      5      6      7+
//   ceiling   1 s   2 s   4 s   8 s   16 s   32 s   60 s   60 s     delay ∈ [ceiling / 2, ceiling]

import { jitteredBackoff } from '../backoff.js';

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 60_000;

/** Milliseconds to wait before attempt `attempt` (0 = the first retry); `random` ∈ [0, 1). */
export function backoffDelay(attempt: number, random: number, baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS): number {
  return jitteredBackoff(attempt, baseMs, maxMs, random);
}
