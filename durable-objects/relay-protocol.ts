// The contract on the Worker ↔ SessionDO WebSocket: binary frames carry whole MQTT packets both ways;
// text frames carry the few facts only the Worker can observe; close codes say who went.
import type { ConnectionLoss } from '../core/session/machine.js';

/** Headers on the upgrade request the Worker sends to a session object. */
export const RelayHeader = {
  tenant: 'X-Mqtt-Tenant',
  /** URI-encoded: client ids are arbitrary UTF-8. */
  clientId: 'X-Mqtt-Client-Id',
  clientIdAssigned: 'X-Mqtt-Client-Id-Assigned',
  /** Keepalive the Worker enforces, seconds. */
  keepAlive: 'X-Mqtt-Keep-Alive',
  /** Present when the server overrides the client's keepalive (5.0 Server Keep Alive). */
  serverKeepAlive: 'X-Mqtt-Server-Keep-Alive',
  /** URI-encoded JSON { id, acl, limits } of the token the client authenticated with; absent = anonymous. */
  token: 'X-Mqtt-Token',
  /** The client's address as Cloudflare saw it (CF-Connecting-IP), for the event log. */
  remoteAddress: 'X-Mqtt-Remote-Address',
} as const;

/**
 * Close codes on the relay socket. Both ends close it with `ended` and a short reason: the Worker when its
 * client went (its close or error, a keepalive timeout, a protocol or framing fault, a refused CONNECT, the
 * session's side closing), the session object when it ended the connection. Any other code (1001 going away,
 * 1006 abnormal, 1011, 1012 service restart) or an error event means the platform dropped the relay's isolate:
 * the client did not fail, and the session holds its will for the grace (core/session/lifecycle.ts).
 */
export const RelayCloseCode = { ended: 1000 } as const;

/** Who lost a relay socket that closed with `code` (undefined: an error event, no close frame). */
export function connectionLoss(code: number | undefined): ConnectionLoss {
  return code === RelayCloseCode.ended ? 'client' : 'platform';
}

/** Worker → session control messages, sent as text frames. */
export type RelayControl = { type: 'keepalive-timeout' };

export function encodeControl(control: RelayControl): string {
  return JSON.stringify(control);
}

export function decodeControl(text: string): RelayControl | undefined {
  try {
    const value = JSON.parse(text) as { type?: unknown };
    return value.type === 'keepalive-timeout' ? { type: 'keepalive-timeout' } : undefined;
  } catch {
    return undefined;
  }
}
