// A link into one of the tenant's own sessions, as the Worker's relay opens it for a client (relay-protocol.ts):
// a bridge and a rule are clients of their tenant like any device, so what they publish is routed, stored
// and acknowledged by the same rules, and what they subscribe to is queued in a persistent session while
// they are away.
import type { ConnectionToken } from '../../core/tenancy/token.js';
import { sessionName, sessionStub } from '../addresses.js';
import type { Env } from '../env.js';
import { relayHeaders } from '../relay-protocol.js';
import { webSocketLink, type Link } from './link.js';

/**
 * Opens the relay socket of session (tenant, clientId), acting with `token`'s rights (its id names the
 * bridge or rule in counters and the event log). The CONNECT is the caller's first message, as for a relay.
 */
export async function openSessionLink(env: Env, tenant: string, clientId: string, token: ConnectionToken): Promise<Link> {
  const headers = relayHeaders({ tenant, clientId, clientIdAssigned: false, keepAlive: 0, token });
  const response = await sessionStub(env, sessionName(tenant, clientId)).fetch('https://session.internal/connect', { headers });
  const socket = response.webSocket;
  if (!socket) throw new Error(`session ${clientId} refused the link (${response.status})`);
  socket.accept();
  // Binary frames as ArrayBuffers, in order (DESIGN §6).
  socket.binaryType = 'arraybuffer';
  return webSocketLink(socket);
}

/**
 * The rights a bridge or rule acts with in its tenant: all of the tenant's topics (the tenant's admin
 * configured it; its topic filters and prefixes are what narrow it). `id` names it in counters and the log.
 */
export function internalToken(id: string): ConnectionToken {
  return { id, acl: [{ filter: '#', rights: ['pub', 'sub'] }], limits: {} };
}
