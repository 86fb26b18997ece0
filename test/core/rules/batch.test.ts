// The batch assembler: full by count or bytes, due after maxWaitMs, the first message always taken.
import { describe, expect, it } from 'vitest';
import { BatchAssembler, roomForQos0 } from '../../../core/rules/batch.js';

const limits = { maxMessages: 3, maxBytes: 100, maxWaitMs: 1000 };
const item = (bytes: number, id = 0) => ({ bytes, id });

describe('BatchAssembler', () => {
  it('has nothing due while empty', () => {
    expect(new BatchAssembler<{ bytes: number; id: number }>(limits).dueAt(0)).toBeUndefined();
  });

  it('is due maxWaitMs after its first message when not full', () => {
    const batch = new BatchAssembler<{ bytes: number; id: number }>(limits);
    batch.add(item(1), 500);
    batch.add(item(1), 900);
    expect(batch.full).toBe(false);
    expect(batch.dueAt(950)).toBe(1500);
  });

  it('is due now once maxMessages are waiting', () => {
    const batch = new BatchAssembler<{ bytes: number; id: number }>(limits);
    for (let i = 0; i < 3; i++) batch.add(item(1, i), 0);
    expect(batch.full).toBe(true);
    expect(batch.dueAt(10)).toBe(10);
    expect(batch.take().map((m) => m.id)).toEqual([0, 1, 2]);
    expect(batch.size).toBe(0);
  });

  it('is due now once maxBytes are waiting, and takes no more than maxBytes (in order)', () => {
    const batch = new BatchAssembler<{ bytes: number; id: number }>(limits);
    batch.add(item(60, 1), 0);
    batch.add(item(50, 2), 0);
    expect(batch.dueAt(5)).toBe(5);
    expect(batch.take().map((m) => m.id)).toEqual([1]);
    expect(batch.take().map((m) => m.id)).toEqual([2]);
  });

  it('takes a first message larger than maxBytes alone', () => {
    const batch = new BatchAssembler<{ bytes: number; id: number }>(limits);
    batch.add(item(500, 1), 0);
    batch.add(item(1, 2), 0);
    expect(batch.take().map((m) => m.id)).toEqual([1]);
  });

  it('a batch re-formed after a restart is due once it has the messages it had, and takes no more', () => {
    const batch = new BatchAssembler<{ bytes: number; id: number }>(limits);
    batch.add(item(1, 1), 0);
    batch.add(item(1, 2), 0);
    expect(batch.dueAt(5, 2)).toBe(5);
    batch.add(item(1, 3), 0);
    expect(batch.take(2).map((m) => m.id)).toEqual([1, 2]);
  });

  it('clear() forgets everything (the session sends it again)', () => {
    const batch = new BatchAssembler<{ bytes: number; id: number }>(limits);
    batch.add(item(1), 0);
    expect(batch.clear()).toHaveLength(1);
    expect(batch.dueAt(0)).toBeUndefined();
  });

  it('QoS 0 messages find room up to twice maxMessages held', () => {
    expect(roomForQos0(5, limits)).toBe(true);
    expect(roomForQos0(6, limits)).toBe(false);
  });
});
