// An administrator ends an offline session (DELETE /tenants/{t}/sessions/{clientId}/state): its
// subscriptions (here and in the shards), queued and inflight messages, pending will and alarm go, and its
// presence entry with them. A connected session is not touched: the administrator kicks it first, so that
// deleting stored state never cuts a live client off by surprise.
//
//   no session stored              → 'none'
//   connected (an owner is live)   → 'connected', nothing changes
//   offline (or its owner was lost) → 'discarded': as a revoked token's offline session ends
//                                     (token-change.ts): the will is dropped with the rest, not published
import { Effects, type Effect } from './effects.js';
import { discardSession, recoverLostOwner, reportPresence, runDueTimers } from './lifecycle.js';
import { ownerOf, type SessionConfig, type State } from './state.js';

export type DiscardOutcome = 'none' | 'connected' | 'discarded';

/** The reducer of the admin's discard: the state is updated in place, the effects are the adapter's to apply. */
export function discardOffline(state: State, now: number, config: SessionConfig): { outcome: DiscardOutcome; effects: Effect[] } {
  const out = new Effects();
  // A reset may have lost the owner's socket without a close event: that session is offline (lifecycle.ts).
  recoverLostOwner(state, 'wake', now, config, out);
  // Timers due before their alarm ran: an expired session has already ended.
  runDueTimers(state, now, config, out);
  const record = state.session.record;
  let outcome: DiscardOutcome = 'none';
  if (record && ownerOf(state)) outcome = 'connected';
  else if (record) {
    discardSession(state, out);
    reportPresence(record, 'ended', out);
    outcome = 'discarded';
  }
  return { outcome, effects: out.finish() };
}
