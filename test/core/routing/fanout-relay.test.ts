// planFanout: which copies a shard sends itself and which go to relays, in chunks of at most the threshold.
import { describe, expect, it } from 'vitest';
import type { PlannedDelivery } from '../../../core/routing/fan-out.js';
import { deliveryFor, fanoutSlot, planFanout, relayedMessage, relayItemBytes } from '../../../core/routing/fanout-relay.js';

const copy = (session: string, extra: Partial<PlannedDelivery> = {}): PlannedDelivery => ({ session, qos: 0, retain: false, filters: ['t'], ...extra });
const sessions = (n: number, prefix = 's') => Array.from({ length: n }, (_, i) => copy(`tenant\u0000${prefix}${i}`));

describe('planFanout', () => {
  it('keeps every copy direct while the ordinary copies are at most the threshold', () => {
    const plans = sessions(5);
    expect(planFanout(plans, 5)).toStrictEqual({ direct: plans, chunks: [] });
  });

  it('past the threshold, splits the ordinary copies into ceil(n / threshold) chunks of at most threshold', () => {
    for (const [n, threshold] of [[6, 5], [30, 5], [1001, 1000], [2500, 1000], [97, 7]] as const) {
      const plan = planFanout(sessions(n), threshold);
      expect(plan.direct).toStrictEqual([]);
      expect(plan.chunks.length).toBeLessThanOrEqual(Math.ceil(n / threshold));
      for (const chunk of plan.chunks) expect(chunk.copies.length).toBeLessThanOrEqual(threshold);
      const all = plan.chunks.flatMap((chunk) => chunk.copies.map((c) => c.session)).sort();
      expect(all).toStrictEqual(sessions(n).map((c) => c.session).sort());
      expect(new Set(plan.chunks.map((chunk) => chunk.slot)).size).toBe(plan.chunks.length);
      for (const chunk of plan.chunks) expect(chunk.slot).toBeLessThan(Math.ceil(n / threshold));
    }
  });

  it('keeps shared subscriptions\' copies direct, and does not count them towards the threshold', () => {
    const shared = copy('tenant\u0000s3', { filters: ['$share/g/t'], shareFilter: '$share/g/t', qos: 1 });
    const small = planFanout([...sessions(5), shared], 5);
    expect(small.chunks).toStrictEqual([]);
    const big = planFanout([...sessions(12), shared], 5);
    expect(big.direct).toStrictEqual([shared]);
    expect(big.chunks.flatMap((chunk) => chunk.copies)).toHaveLength(12);
  });

  it('puts a session in the same slot for every message whose set has the same number of slots, whatever the topic', () => {
    const a = planFanout(sessions(30), 5);
    const b = planFanout([...sessions(30)].reverse(), 5);
    const slotOf = (plan: ReturnType<typeof planFanout>) => new Map(plan.chunks.flatMap((chunk) => chunk.copies.map((c) => [c.session, chunk.slot] as const)));
    // The same set in another match order: probing may move the sessions of a full slot, the others stay.
    const [sa, sb] = [slotOf(a), slotOf(b)];
    let same = 0;
    for (const [session, slot] of sa) if (sb.get(session) === slot) same++;
    expect(same).toBeGreaterThanOrEqual(15);
    expect(planFanout(sessions(30), 5)).toStrictEqual(a);
  });

  it('keeps chunk copies as planned (QoS, RETAIN, filters, identifiers) minus nothing', () => {
    const rich = copy('tenant\u0000x', { qos: 2, retain: true, filters: ['a/#', '+/b'], subscriptionIdentifiers: [4, 9] });
    const plan = planFanout([rich, ...sessions(2)], 1);
    expect(plan.chunks.flatMap((chunk) => chunk.copies)).toContainEqual(rich);
  });
});

describe('fanoutSlot', () => {
  it('is a slot in range, the same for the same name', () => {
    for (let slots = 1; slots < 50; slots++) {
      const slot = fanoutSlot('tenant\u0000client', slots);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(slots);
      expect(fanoutSlot('tenant\u0000client', slots)).toBe(slot);
    }
  });

  it('moves only the sessions the new slot takes when slots grow from 9 to 10 (a consistent hash)', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `t\u0000c${i}`);
    let moved = 0;
    for (const name of names) {
      const before = fanoutSlot(name, 9);
      const after = fanoutSlot(name, 10);
      if (before !== after) {
        moved++;
        expect(after).toBe(9);
      }
    }
    // About a tenth move.
    expect(moved).toBeGreaterThan(700);
    expect(moved).toBeLessThan(1300);
  });

  it('spreads sessions evenly enough over the slots', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[fanoutSlot(`t\u0000c${i}`, 8)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });
});

describe('deliveryFor and relayed messages', () => {
  const message = {
    topic: 'a/b',
    payload: new Uint8Array([1, 2, 3]),
    qos: 2 as const,
    retain: true,
    properties: { contentType: 'x' },
    expiresAt: 99,
    exactlyOnceKey: 'k',
    origin: 'tenant\u0000pub',
    retainedLimit: 10,
  };

  it('builds the copy as planned; the exactly-once key only at QoS 2', () => {
    expect(deliveryFor(copy('s', { qos: 2, filters: ['a/#'], subscriptionIdentifiers: [3] }), message)).toStrictEqual({
      topic: 'a/b',
      payload: message.payload,
      qos: 2,
      retain: false,
      filters: ['a/#'],
      properties: { contentType: 'x' },
      subscriptionIdentifiers: [3],
      expiresAt: 99,
      exactlyOnceKey: 'k',
    });
    expect(deliveryFor(copy('s', { qos: 1 }), message).exactlyOnceKey).toBeUndefined();
  });

  it('a relayed message leaves the publisher\'s origin and limits behind', () => {
    const relayed = relayedMessage(message);
    expect(relayed).toStrictEqual({ topic: 'a/b', payload: message.payload, qos: 2, retain: true, properties: { contentType: 'x' }, expiresAt: 99, exactlyOnceKey: 'k' });
  });

  it('counts a relay item\'s message once, whatever the number of copies', () => {
    const one = relayItemBytes({ message: { ...message, payload: new Uint8Array(1000) }, copies: [copy('s1')] });
    const ten = relayItemBytes({ message: { ...message, payload: new Uint8Array(1000) }, copies: sessions(10) });
    expect(one).toBeGreaterThan(1000);
    expect(ten).toBeLessThan(2000);
  });
});
