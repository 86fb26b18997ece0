// What a rule has done, as the API and dashboard show it: kept in memory and written now and then (one row
// per rule), never a row per message.

export interface RuleError {
  at: number;
  message: string;
  /** HTTP status, when the receiver answered. */
  status?: number;
  /** The attempt that failed (1 = first). */
  attempt?: number;
}

export interface RuleCounters {
  deliveredMessages: number;
  deliveredBatches: number;
  /** Attempts that failed (each retry that fails counts again). */
  failedAttempts: number;
  deadLetteredMessages: number;
  deadLetteredBatches: number;
  /** QoS 0 messages dropped because the rule already held its bound (QoS 1 ones wait in the session instead). */
  droppedMessages: number;
  lastSuccessAt: number | null;
  lastError: RuleError | null;
  lastDeadLetterAt: number | null;
  /** The last RECENT_ERRORS errors, newest first. */
  recentErrors: RuleError[];
}

export const RECENT_ERRORS = 5;

export function newCounters(): RuleCounters {
  return {
    deliveredMessages: 0,
    deliveredBatches: 0,
    failedAttempts: 0,
    deadLetteredMessages: 0,
    deadLetteredBatches: 0,
    droppedMessages: 0,
    lastSuccessAt: null,
    lastError: null,
    lastDeadLetterAt: null,
    recentErrors: [],
  };
}

export function countDelivered(counters: RuleCounters, messages: number, batches: number, now: number): void {
  counters.deliveredMessages += messages;
  counters.deliveredBatches += batches;
  counters.lastSuccessAt = now;
}

/** An error: a failed attempt (counted) or one that is only reported (a link that could not open). */
export function noteError(counters: RuleCounters, error: RuleError, failedAttempt: boolean): void {
  if (failedAttempt) counters.failedAttempts++;
  counters.lastError = error;
  counters.recentErrors = [error, ...counters.recentErrors].slice(0, RECENT_ERRORS);
}

export function countDeadLettered(counters: RuleCounters, messages: number, now: number): void {
  counters.deadLetteredMessages += messages;
  counters.deadLetteredBatches++;
  counters.lastDeadLetterAt = now;
}
