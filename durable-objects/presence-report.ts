// A session's presence report: its presence bucket (the sessions list, the tenant's session limit) and, for a
// token with maxConnections, the token's own object, retried with back-off.
import type { Effect } from '../core/session/effects.js';
import { presenceBucketOf } from '../core/tenancy/presence.js';
import { presenceStub, tokenStub } from './addresses.js';
import { brokerConfig } from './config.js';
import type { Env } from './env.js';

/** Retries of a presence report: a lost one would leave the sessions list and connection counts wrong. */
const PRESENCE_ATTEMPTS = 4;

/**
 * Reports a session's state (and what the sessions page shows of it: the effect's `details`) to its presence bucket and,
 * for a connection-limited token, to the token's object, retrying with jittered back-off (0.2, 0.4, 0.8 s):
 * a storm may overload a bucket for a moment.
 */
export async function reportPresence(env: Env, effect: Extract<Effect, { type: 'presence' }>): Promise<void> {
  const buckets = brokerConfig(env).presenceBuckets;
  const bucket = presenceBucketOf(effect.clientId, buckets);
  const reports: Array<() => Promise<unknown>> = [
    () => presenceStub(env, effect.tenant, bucket).report(effect.tenant, bucket, effect.clientId, effect.state, effect.tokenId, effect.details ?? {}),
  ];
  if (effect.countsConnections && effect.tokenId !== undefined) {
    const tokenId = effect.tokenId;
    reports.push(() => tokenStub(env, effect.tenant, tokenId).connectionPresence(effect.clientId, effect.state === 'connected'));
  }
  await Promise.all(
    reports.map(async (report) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await report();
        } catch (error) {
          if (attempt >= PRESENCE_ATTEMPTS) return console.error('presence report failed', String(error));
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt * (0.5 + Math.random())));
        }
      }
    }),
  );
}

/** Takes a client id off its presence bucket's list (a session with no state behind it); true when it was listed. */
export function forgetPresence(env: Env, tenant: string, clientId: string): Promise<boolean> {
  const buckets = brokerConfig(env).presenceBuckets;
  const bucket = presenceBucketOf(clientId, buckets);
  return presenceStub(env, tenant, bucket).report(tenant, bucket, clientId, 'ended');
}
