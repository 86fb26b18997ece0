// Who may connect, decided in the Worker before any session object wakes: a token is the MQTT username.
import type { ConnectPacket } from '../core/codec/packets.js';
import { ReasonCode } from '../core/reason-codes.js';
import type { AclEntry } from '../core/acl/acl.js';
import { parseToken, type ConnectionToken } from '../core/tenancy/token.js';
import { tenantStub } from '../durable-objects/addresses.js';
import type { BrokerConfig } from '../durable-objects/config.js';
import type { Env } from '../durable-objects/env.js';

/** The tenant anonymous clients land in when the deployment allows them (local development does). */
export const DEFAULT_TENANT = 'default';

export type AuthResult =
  | { ok: true; tenant: string; token?: ConnectionToken }
  | { ok: false; reasonCode: number; reason: string };

/**
 * A client without username joins the default tenant when ALLOW_ANONYMOUS is "true". Otherwise the
 * username must be a valid, enabled, unexpired token (its tenant is in the token, so no global lookup);
 * the password is ignored, as flespi does. Refusals: 3.1.1 CONNACK 0x05; 5.0 0x86 for an unknown or
 * wrong token, 0x87 for a disabled or expired one, 0x85 (3.1.1: 0x02) for a client id the token may not
 * use, 0x97 when the token's connection limit or the tenant's session limit is reached (3.1.1: 0x03).
 */
export async function authenticate(packet: ConnectPacket, clientId: string, clientIdAssigned: boolean, config: BrokerConfig, env: Env): Promise<AuthResult> {
  const v5 = packet.protocolVersion === 5;
  const refuse = (reasonCode: number, reason: string): AuthResult => ({
    ok: false,
    reasonCode: v5 ? reasonCode : reasonCode === ReasonCode.QuotaExceeded ? ReasonCode.ServerUnavailable : ReasonCode.NotAuthorized,
    reason,
  });
  if (packet.username === undefined || packet.username === '') {
    return config.allowAnonymous ? { ok: true, tenant: DEFAULT_TENANT } : refuse(ReasonCode.NotAuthorized, 'anonymous clients are not allowed');
  }
  const parsed = parseToken(packet.username);
  if (!parsed) return refuse(ReasonCode.BadUserNameOrPassword, 'username is not a token');
  const result = await tenantStub(env, parsed.tenant).authenticate(parsed.tokenId, parsed.secret, true, clientId, clientIdAssigned);
  if (!result.ok) {
    switch (result.reason) {
      case 'unknown':
        return refuse(ReasonCode.BadUserNameOrPassword, 'unknown token');
      case 'disabled':
      case 'expired':
        return refuse(ReasonCode.NotAuthorized, `token ${result.reason}`);
      case 'client-id':
        // The token may not use this client id: 5.0 0x85, 3.1.1 0x02 Identifier rejected (connackCodeFor).
        return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'client id not allowed for this token' };
      case 'connection-limit':
        return refuse(ReasonCode.QuotaExceeded, 'token connection limit reached');
      case 'session-limit':
        return refuse(ReasonCode.QuotaExceeded, 'tenant session limit reached');
    }
  }
  const token = result.token;
  const maxRetained = result.tenantLimits.maxRetained;
  return {
    ok: true,
    tenant: parsed.tenant,
    token: { id: token.id, acl: token.acl as AclEntry[], limits: token.limits, ...(maxRetained === undefined ? {} : { maxRetained }) },
  };
}
