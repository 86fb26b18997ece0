// The token of the session's client changed: revoked, the session ends; otherwise its new ACL and limits apply.
import type { AclEntry } from '../acl/acl.js';
import { ReasonCode } from '../reason-codes.js';
import type { TokenLimits } from '../tenancy/limits.js';
import type { Effects } from './effects.js';
import { discardSession, endConnection, reportPresence } from './lifecycle.js';
import { ownerOf, type SessionConfig, type State } from './state.js';
import { forgetUnauthorizedSubscriptions } from './subscribe.js';

/** What the tenant object tells a session of a changed token; null = deleted. */
export interface TokenUpdate {
  acl: AclEntry[];
  limits: TokenLimits;
  enabled: boolean;
  /** ms since the epoch; null = never. */
  expiresAt: number | null;
}

/**
 * A token that is gone, disabled or expired ends the session, connected or offline: its connection closes
 * (5.0: DISCONNECT 0x98 Administrative action) and its subscriptions, queue and will are discarded. They
 * were the token's rights: a will is a publish the token may no longer make, a queue holds messages it may
 * no longer read [DESIGN §3]. Otherwise the session, connected or offline, keeps the new ACL and limits,
 * and subscriptions the new ACL no longer allows are removed; queued messages are checked against the ACL
 * as they leave (outbound.ts).
 */
export function onTokenChanged(state: State, tokenId: string, token: TokenUpdate | null, now: number, config: SessionConfig, out: Effects): void {
  const record = state.session.record;
  if (!record?.token || record.token.id !== tokenId) return;
  const owner = ownerOf(state);
  const revoked = !token || !token.enabled || (token.expiresAt !== null && token.expiresAt <= now);
  if (revoked) {
    if (owner) endConnection(state, owner, { will: 'discard', reasonCode: ReasonCode.AdministrativeAction, reasonString: 'Administrative action: token removed, disabled or expired', cause: 'token' }, now, config, out);
    // A session with Session Expiry 0 ended with its connection; a kept one ends now.
    if (state.session.record) {
      discardSession(state, out);
      reportPresence(record, 'ended', out);
    }
    return;
  }
  record.token = { ...record.token, acl: token.acl, limits: token.limits };
  out.persist({ op: 'writeSession', record: { ...record } });
  if (owner) owner.publishBucket = undefined;
  forgetUnauthorizedSubscriptions(state, out);
}
