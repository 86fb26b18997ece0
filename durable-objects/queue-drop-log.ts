// Messages a session's queue bounds dropped are counted in its storage (the sessions API's counters) and logged
// here, at most once per DROP_LOG_INTERVAL_MS per session with the total since (`wrangler tail` shows them).
import type { StoreOp } from '../core/session/effects.js';

const DROP_LOG_INTERVAL_MS = 60_000;

export class QueueDropLog {
  private unlogged = 0;
  private loggedAt = 0;

  /** Notes the drops among a step's store ops; `who` names the session when a line is due. */
  note(ops: readonly StoreOp[], who: () => Record<string, unknown>): void {
    for (const op of ops) {
      if (op.op === 'count' && (op.counter === 'queue_dropped' || op.counter === 'queue_dropped_bytes')) this.unlogged += op.n;
    }
    const now = Date.now();
    if (this.unlogged === 0 || now - this.loggedAt < DROP_LOG_INTERVAL_MS) return;
    console.warn('queue bound dropped messages', { ...who(), dropped: this.unlogged });
    this.unlogged = 0;
    this.loggedAt = now;
  }
}
