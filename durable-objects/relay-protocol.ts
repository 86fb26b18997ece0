// The contract on the Worker ↔ SessionDO WebSocket: binary frames carry whole MQTT packets both ways;
// text frames carry the few facts only the Worker can observe.

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
} as const;

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
