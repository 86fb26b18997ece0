// The contract on the Worker ↔ SessionDO WebSocket: binary frames carry whole MQTT packets both ways;
// text frames carry the few facts only the Worker can observe; close codes say who went.
import { concatBytes } from '../core/codec/bytes.js';
import { encodePackets, type Packet, type ProtocolVersion } from '../core/codec/index.js';
import type { ConnectionLoss } from '../core/session/machine.js';
import type { ConnectionToken } from '../core/tenancy/token.js';

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

/** What the upgrade request to a session object says of its connection (RelayHeader). */
export interface RelayOpening {
  tenant: string;
  clientId: string;
  clientIdAssigned: boolean;
  /** Seconds. */
  keepAlive: number;
  serverKeepAlive?: number;
  /** Absent: an anonymous client. */
  token?: ConnectionToken;
  remoteAddress?: string;
}

/** The headers of the upgrade request that opens a relay socket to a session object (the Worker's, or a link's). */
export function relayHeaders(opening: RelayOpening): Record<string, string> {
  const headers: Record<string, string> = {
    Upgrade: 'websocket',
    [RelayHeader.tenant]: opening.tenant,
    [RelayHeader.clientId]: encodeURIComponent(opening.clientId),
    [RelayHeader.clientIdAssigned]: opening.clientIdAssigned ? '1' : '0',
    [RelayHeader.keepAlive]: String(opening.keepAlive),
  };
  if (opening.serverKeepAlive !== undefined) headers[RelayHeader.serverKeepAlive] = String(opening.serverKeepAlive);
  if (opening.token) headers[RelayHeader.token] = encodeURIComponent(JSON.stringify(opening.token));
  if (opening.remoteAddress) headers[RelayHeader.remoteAddress] = opening.remoteAddress;
  return headers;
}

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

/** A relay message holds at most this much unless one packet alone is larger. */
export const RELAY_MESSAGE_BYTES = 1024 * 1024;

/**
 * Several packets in one WebSocket message: legal, and far cheaper than one message each. But none larger
 * than RELAY_MESSAGE_BYTES unless one packet alone is: a retained replay or a drained queue leaves as several
 * bounded messages (Cloudflare stops at 32 MiB per message; the relay and the client each hold a message whole).
 */
export function relayMessages(packets: Packet[], version: ProtocolVersion): Uint8Array[] {
  const whole = encodePackets(packets, version);
  if (whole.length <= RELAY_MESSAGE_BYTES || packets.length === 1) return [whole];
  // Rare: encode packet by packet and cut between packets.
  const messages: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  for (const packet of packets) {
    const bytes = encodePackets([packet], version);
    if (size + bytes.length > RELAY_MESSAGE_BYTES && batch.length > 0) {
      messages.push(concatBytes(batch));
      batch = [];
      size = 0;
    }
    batch.push(bytes);
    size += bytes.length;
  }
  if (batch.length > 0) messages.push(concatBytes(batch));
  return messages;
}
