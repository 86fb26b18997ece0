// Exponential back-off with "equal jitter": the wait doubles from `baseMs` up to `maxMs`, and is then drawn
// between half and all of that ceiling, so many clients cut off by one outage (bridges of many tenants, rules
// of one receiver) spread their retries out, and none comes back sooner than half the schedule.
//
//   attempt   0      1      2      3 …    ceiling = min(maxMs, baseMs × 2^attempt); delay ∈ [ceiling / 2, ceiling]

/** Milliseconds to wait before retry `attempt` (0 = the first retry); `random` ∈ [0, 1). */
export function jitteredBackoff(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 40));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
