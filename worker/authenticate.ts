// Who may connect, decided in the Worker before any session object wakes. Tokens and ACLs plug in here.
import type { ConnectPacket } from '../core/codec/packets.js';
import { ReasonCode } from '../core/reason-codes.js';
import type { BrokerConfig } from './config.js';

/** The tenant anonymous clients land in when the deployment allows them (local development does). */
export const DEFAULT_TENANT = 'default';

export type AuthResult = { ok: true; tenant: string } | { ok: false; reasonCode: number; reason: string };

/**
 * Until tokens exist every client is anonymous: it joins the default tenant when ALLOW_ANONYMOUS is "true"
 * and is refused with CONNACK 0x05 (3.1.1) / 0x87 (5.0) otherwise. A password is ignored, as flespi does.
 */
export function authenticate(_packet: ConnectPacket, config: BrokerConfig): AuthResult {
  if (config.allowAnonymous) return { ok: true, tenant: DEFAULT_TENANT };
  return { ok: false, reasonCode: ReasonCode.NotAuthorized, reason: 'anonymous clients are not allowed' };
}
