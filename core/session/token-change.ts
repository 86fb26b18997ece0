// The token of the connected client changed: revoked, it is cut off; otherwise its new ACL and limits apply.
import type { AclEntry } from '../acl/acl.js';
import { ReasonCode } from '../reason-codes.js';
import type { TokenLimits } from '../tenancy/limits.js';
import type { Effects } from './effects.js';
import { endConnection } from './lifecycle.js';
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
 * A token that is gone, disabled or expired closes its connection (5.0: DISCONNECT 0x98 Administrative
 * action, the will published). Otherwise the session keeps the new ACL and limits, and subscriptions the
 * new ACL no longer allows are removed.
 */
export function onTokenChanged(state: State, tokenId: string, token: TokenUpdate | null, now: number, config: SessionConfig, out: Effects): void {
  const record = state.session.record;
  if (!record?.token || record.token.id !== tokenId) return;
  const owner = ownerOf(state);
  const revoked = !token || !token.enabled || (token.expiresAt !== null && token.expiresAt <= now);
  if (revoked) {
    if (owner) endConnection(state, owner, { publishWill: true, reasonCode: ReasonCode.AdministrativeAction }, now, config, out);
    return;
  }
  record.token = { ...record.token, acl: token.acl, limits: token.limits };
  out.persist({ op: 'writeSession', record: { ...record } });
  if (owner) owner.publishBucket = undefined;
  forgetUnauthorizedSubscriptions(state, out);
}
