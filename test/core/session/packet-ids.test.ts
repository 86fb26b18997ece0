// nextPacketId: outbound packet identifiers 1..65535, wrapping, never one still in use.
import { describe, expect, it } from 'vitest';
import { nextPacketId } from '../../../core/session/packet-ids.js';

const MAX_ID = 65535;

function idsExcept(...free: number[]): Set<number> {
  const inUse = new Set<number>();
  for (let id = 1; id <= MAX_ID; id++) inUse.add(id);
  for (const id of free) inUse.delete(id);
  return inUse;
}

describe('nextPacketId', () => {
  it.each([
    [0, 1],
    [1, 2],
    [41, 42],
    [65534, 65535],
  ])('[MQTT-2.3.1-4] after %i with nothing in use the next id is %i', (last, next) => {
    expect(nextPacketId(last, new Set())).toBe(next);
  });

  it('[MQTT-2.3.1-1] wraps from 65535 to 1, never to 0', () => {
    expect(nextPacketId(MAX_ID, new Set())).toBe(1);
  });

  it('[MQTT-2.3.1-4] skips ids still in use (the module\'s worked example: 65535, {1, 2} -> 3)', () => {
    expect(nextPacketId(MAX_ID, new Set([1, 2]))).toBe(3);
  });

  it('[MQTT-2.3.1-4] skips a run of ids in use', () => {
    expect(nextPacketId(10, new Set([11, 12, 13, 15]))).toBe(14);
  });

  it('[MQTT-2.3.1-4] skips ids in use across the wrap', () => {
    expect(nextPacketId(65533, new Set([65534, 65535, 1, 2]))).toBe(3);
  });

  it('[MQTT-2.3.1-4] finds the single free id wherever it is', () => {
    expect(nextPacketId(40000, idsExcept(39999))).toBe(39999);
    expect(nextPacketId(40000, idsExcept(40001))).toBe(40001);
    expect(nextPacketId(MAX_ID, idsExcept(MAX_ID))).toBe(MAX_ID);
  });

  it('may hand out `last` again when it is the only free id', () => {
    expect(nextPacketId(777, idsExcept(777))).toBe(777);
  });

  it('returns undefined when all 65535 ids are in use', () => {
    const all = idsExcept();
    expect(all.size).toBe(MAX_ID);
    expect(nextPacketId(0, all)).toBeUndefined();
    expect(nextPacketId(12345, all)).toBeUndefined();
  });

  it('accepts the inflight Map as the set of ids in use', () => {
    const inflight = new Map<number, string>([
      [5, 'm5'],
      [6, 'm6'],
    ]);
    expect(nextPacketId(4, inflight)).toBe(7);
  });

  it('[MQTT-2.3.1-4] allocating until full hands out each of 1..65535 exactly once, in order after `last`', () => {
    const inUse = new Set<number>();
    let last = 65000;
    const outOfOrder: number[] = [];
    for (let i = 0; i < MAX_ID; i++) {
      const id = nextPacketId(last, inUse);
      if (id === undefined) throw new Error(`ran out after ${i} ids`);
      if (id !== (last === MAX_ID ? 1 : last + 1)) outOfOrder.push(id);
      inUse.add(id);
      last = id;
    }
    expect(outOfOrder).toStrictEqual([]);
    expect(inUse.size).toBe(MAX_ID);
    expect(Math.min(...inUse)).toBe(1);
    expect(Math.max(...inUse)).toBe(MAX_ID);
    expect(nextPacketId(last, inUse)).toBeUndefined();
  });

  it('[MQTT-2.3.1-4] an id is reused once it has been released', () => {
    const inUse = idsExcept();
    inUse.delete(300);
    expect(nextPacketId(299, inUse)).toBe(300);
    inUse.add(300);
    inUse.delete(12);
    expect(nextPacketId(300, inUse)).toBe(12);
  });
});
