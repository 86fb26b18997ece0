// Refused CONNECTs of a known tenant's tokens, written to the tenant's event log: authentication failures
// and connection-time limits (client id, connections, sessions). An isolate writes at most
// REFUSALS_PER_SECOND per tenant: a device retrying a bad token in a loop must not make the log its target.
import type { LogEvent } from '../core/tenancy/event-log.js';
import type { Env } from '../durable-objects/env.js';
import { sendEvents } from '../durable-objects/event-sender.js';
import type { RefusalEntry } from './authenticate.js';

const REFUSALS_PER_SECOND = 20;
const recent = new Map<string, { second: number; count: number }>();

export async function logRefusal(env: Env, refusal: RefusalEntry, clientId: string, reasonCode: number, reason: string, remoteAddress?: string): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  let window = recent.get(refusal.tenant);
  if (!window || window.second !== second) {
    if (recent.size > 1000) recent.clear();
    recent.set(refusal.tenant, (window = { second, count: 0 }));
  }
  if (++window.count > REFUSALS_PER_SECOND) return;
  const event: LogEvent = {
    at: Date.now(),
    kind: refusal.limit ? 'limit' : 'auth_failure',
    clientId,
    tokenId: refusal.tokenId,
    message: `CONNECT refused (0x${reasonCode.toString(16).padStart(2, '0')}): ${reason}${remoteAddress ? `, from ${remoteAddress}` : ''}`,
    reasonCode,
    ...(refusal.limit ? { limit: refusal.limit } : {}),
    ...(remoteAddress ? { detail: { remoteAddress } } : {}),
  };
  await sendEvents(env, [{ tenant: refusal.tenant, event }]);
}
