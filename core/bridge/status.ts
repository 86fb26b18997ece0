// What a bridge reports: its state, its last failure, and counters kept in memory and written now and then
// (not a row per message).

/**
 * connecting: opening both links; connected: messages flow; backoff: waiting to try again after a failure;
 * error: the remote refused the CONNECT (credentials, client id): retried at the longest back-off;
 * disabled: configured off.
 */
export type BridgeState = 'connecting' | 'connected' | 'backoff' | 'error' | 'disabled';

export interface BridgeCounters {
  /** Messages from the remote published into the tenant. */
  messagesIn: number;
  /** Messages from the tenant published to the remote. */
  messagesOut: number;
  /** Messages not bridged again because they had crossed enough bridges, or were the remote's echo. */
  dropped: number;
  /** Messages the other side refused (e.g. 5.0 0x87 Not authorized), acknowledged and not retried. */
  failed: number;
}

export interface BridgeStatus {
  state: BridgeState;
  /** When the current connection came up (ms), null when not connected. */
  connectedSince: number | null;
  /** Connections made after the first one since the bridge was created or changed. */
  reconnects: number;
  lastError: string | null;
  lastErrorAt: number | null;
  /** When the next attempt is due (backoff, error), else null. */
  nextAttemptAt: number | null;
  counters: BridgeCounters;
}

export function newCounters(): BridgeCounters {
  return { messagesIn: 0, messagesOut: 0, dropped: 0, failed: 0 };
}
