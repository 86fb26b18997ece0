// SharedSubscriptionBalancer: round robin per shared filter, offline members passed over for a while.
import { describe, expect, it } from 'vitest';
import { OFFLINE_MEMORY_MS, SharedSubscriptionBalancer } from '../../../core/routing/shared-subscriptions.js';

const G = '$share/g/t';
const MEMBERS = ['s1', 's2', 's3'] as const;

function picks(balancer: SharedSubscriptionBalancer, count: number, now = 0, filter = G, members: readonly string[] = MEMBERS): string[] {
  return Array.from({ length: count }, () => balancer.pick(filter, members, now)!);
}

describe('SharedSubscriptionBalancer', () => {
  it('[MQTT 5.0 §4.8.2] picks exactly one member per message, in turn', () => {
    expect(picks(new SharedSubscriptionBalancer(), 7)).toEqual(['s1', 's2', 's3', 's1', 's2', 's3', 's1']);
  });

  it('keeps one rotation per shared filter', () => {
    const balancer = new SharedSubscriptionBalancer();
    expect(balancer.pick(G, MEMBERS, 0)).toBe('s1');
    expect(balancer.pick('$share/h/t', MEMBERS, 0)).toBe('s1');
    expect(balancer.pick(G, MEMBERS, 0)).toBe('s2');
  });

  it('has no one to pick from an empty group', () => {
    expect(new SharedSubscriptionBalancer().pick(G, [], 0)).toBeUndefined();
  });

  it('passes over a member reported offline while another is available', () => {
    const balancer = new SharedSubscriptionBalancer();
    balancer.reportPresence('s2', false, 0);
    expect(picks(balancer, 6, 10)).toEqual(['s1', 's3', 's1', 's3', 's1', 's3']);
  });

  it(`forgets "offline" after ${OFFLINE_MEMORY_MS} ms`, () => {
    const balancer = new SharedSubscriptionBalancer();
    balancer.reportPresence('s1', false, 1000);
    expect(balancer.isOffline('s1', 1000 + OFFLINE_MEMORY_MS - 1)).toBe(true);
    expect(picks(balancer, 2, 1000 + OFFLINE_MEMORY_MS - 1)).toEqual(['s2', 's3']);
    expect(balancer.isOffline('s1', 1000 + OFFLINE_MEMORY_MS)).toBe(false);
    expect(picks(balancer, 3, 1000 + OFFLINE_MEMORY_MS)).toEqual(['s1', 's2', 's3']);
  });

  it('forgets "offline" as soon as the member answers online', () => {
    const balancer = new SharedSubscriptionBalancer();
    balancer.reportPresence('s1', false, 0);
    balancer.reportPresence('s1', true, 1);
    expect(picks(balancer, 3, 2)).toEqual(['s1', 's2', 's3']);
  });

  it('still picks when every member is offline (a persistent session queues QoS 1/2), in turn', () => {
    const balancer = new SharedSubscriptionBalancer();
    for (const member of MEMBERS) balancer.reportPresence(member, false, 0);
    expect(picks(balancer, 4, 1)).toEqual(['s1', 's2', 's3', 's1']);
  });

  it('stays fair when members join and leave', () => {
    const balancer = new SharedSubscriptionBalancer();
    expect(picks(balancer, 2, 0, G, ['s1', 's2', 's3'])).toEqual(['s1', 's2']);
    expect(picks(balancer, 2, 0, G, ['s1', 's3'])).toEqual(['s1', 's3']);
    const counts = new Map<string, number>();
    for (const member of picks(balancer, 400, 0, G, ['s1', 's2', 's3', 's4'])) counts.set(member, (counts.get(member) ?? 0) + 1);
    expect([...counts.values()]).toEqual([100, 100, 100, 100]);
  });
});
