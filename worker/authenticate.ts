// Who may connect, decided in the Worker before any session object wakes: a token is the MQTT username.
// No object shared by the whole tenant is asked (issue 11): the token comes from its own object through the
// isolate cache (token-cache.ts); only limits that must be exact across the tenant cost a call, to the
// token's object (maxConnections) or the client id's presence bucket (maxSessions).
import { clientIdAllowed } from '../core/acl/client-id.js';
import type { ConnectPacket } from '../core/codec/packets.js';
import { ReasonCode } from '../core/reason-codes.js';
import type { AclEntry } from '../core/acl/acl.js';
import { presenceBucketOf } from '../core/tenancy/presence.js';
import { DEFAULT_TENANT, constantTimeEqual, parseToken, type ConnectionToken } from '../core/tenancy/token.js';
import { presenceStub, tokenStub } from '../durable-objects/addresses.js';
import type { BrokerConfig } from '../durable-objects/config.js';
import type { Env } from '../durable-objects/env.js';
import { hashSecret } from '../durable-objects/secrets.js';
import { cachedConnectLimits, cachedToken, noteTokenUse } from './token-cache.js';
import { knowTenantLocation } from './tenant-location.js';

export { DEFAULT_TENANT } from '../core/tenancy/token.js';

/** A refusal the tenant's event log records: of a token that names its tenant. */
export interface RefusalEntry {
  tenant: string;
  tokenId: string;
  /** Set for a limit refusal (client id, connections, sessions); else an authentication failure. */
  limit?: string;
}

export type AuthResult =
  | { ok: true; tenant: string; token?: ConnectionToken }
  | { ok: false; reasonCode: number; reason: string; log?: RefusalEntry };

/**
 * A client without username joins the default tenant when ALLOW_ANONYMOUS is "true". Otherwise the
 * username must be a valid, enabled, unexpired token (its tenant is in the token, so no global lookup);
 * the password is ignored, as flespi does. Refusals: 3.1.1 CONNACK 0x05; 5.0 0x86 for an unknown or
 * wrong token, 0x87 for a disabled or expired one, 0x85 (3.1.1: 0x02) for a client id the token may not
 * use, 0x97 when the token's connection limit or the tenant's session limit is reached (3.1.1: 0x03).
 */
export async function authenticate(packet: ConnectPacket, clientId: string, clientIdAssigned: boolean, config: BrokerConfig, env: Env): Promise<AuthResult> {
  const v5 = packet.protocolVersion === 5;
  const refuse = (reasonCode: number, reason: string, log?: RefusalEntry): AuthResult => ({
    ok: false,
    reasonCode: v5 ? reasonCode : reasonCode === ReasonCode.QuotaExceeded ? ReasonCode.ServerUnavailable : ReasonCode.NotAuthorized,
    reason,
    ...(log ? { log } : {}),
  });
  if (packet.username === undefined || packet.username === '') {
    return config.allowAnonymous ? { ok: true, tenant: DEFAULT_TENANT } : refuse(ReasonCode.NotAuthorized, 'anonymous clients are not allowed');
  }
  const parsed = parseToken(packet.username);
  if (!parsed) return refuse(ReasonCode.BadUserNameOrPassword, 'username is not a token');
  const { tenant, tokenId } = parsed;
  // Where the tenant's objects live, before any of them is addressed (a call once per isolate and tenant).
  const [located, presented] = await Promise.all([knowTenantLocation(env, tenant), hashSecret(parsed.secret)]);
  if (!located) return refuse(ReasonCode.BadUserNameOrPassword, 'unknown token');
  const [record, tenantLimits] = await Promise.all([cachedToken(env, tenant, tokenId), cachedConnectLimits(env, tenant)]);
  // Compared in constant time; an unknown id costs the same hash, so timing says nothing.
  const failed = { tenant, tokenId };
  if (!record || !constantTimeEqual(presented, record.secretHash)) return refuse(ReasonCode.BadUserNameOrPassword, record ? 'wrong token secret' : 'unknown token', failed);
  const token = record.info;
  if (!token.enabled) return refuse(ReasonCode.NotAuthorized, 'token disabled', failed);
  if (token.expiresAt !== null && token.expiresAt <= Date.now()) return refuse(ReasonCode.NotAuthorized, 'token expired', failed);
  // A client id the server assigned is new and random: it cannot be another device's.
  if (!clientIdAssigned && !clientIdAllowed(token.clientIds, clientId, token.id)) {
    // The token may not use this client id: 5.0 0x85, 3.1.1 0x02 Identifier rejected (connackCodeFor).
    return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'client id not allowed for this token', log: { ...failed, limit: 'client_id' } };
  }
  // Limits exact across the tenant: each is decided by the one object its count lives in.
  const [connectionOk, sessionOk] = await Promise.all([
    token.limits.maxConnections === undefined ? true : tokenStub(env, tenant, tokenId).admitConnection(tenant, tokenId, clientId),
    tenantLimits.maxSessions === undefined ? true : admitSession(env, tenant, clientId, tenantLimits.maxSessions, config.presenceBuckets),
  ]);
  if (!connectionOk) return refuse(ReasonCode.QuotaExceeded, 'token connection limit reached', { ...failed, limit: 'connections' });
  if (!sessionOk) return refuse(ReasonCode.QuotaExceeded, 'tenant session limit reached', { ...failed, limit: 'sessions' });
  noteTokenUse(env, tenant, tokenId);
  const { maxRetained } = tenantLimits;
  return {
    ok: true,
    tenant,
    token: { id: token.id, acl: token.acl as AclEntry[], limits: token.limits, ...(maxRetained === undefined ? {} : { maxRetained }) },
  };
}

function admitSession(env: Env, tenant: string, clientId: string, maxSessions: number, buckets: number): Promise<boolean> {
  const bucket = presenceBucketOf(clientId, buckets);
  return presenceStub(env, tenant, bucket).admitSession(tenant, bucket, buckets, clientId, maxSessions);
}
