// overflowCount: the bound on an offline session's queue, oldest dropped first.
import { describe, expect, it } from 'vitest';
import { overflowCount } from '../../../core/session/offline-queue.js';

describe('overflowCount', () => {
  it.each([
    // queued, incoming, maximum, drop
    [0, 1, 3, 0],
    [2, 1, 3, 0],
    [3, 0, 3, 0],
    [3, 1, 3, 1],
    [3, 4, 3, 4],
    [10, 5, 100, 0],
    [0, 0, 0, 0],
  ])('queued %i, incoming %i, maximum %i: drop %i', (queued, incoming, maximum, drop) => {
    expect(overflowCount(queued, incoming, maximum)).toBe(drop);
  });

  it('the module\'s worked example: maximum 3, [m1 m2 m3] and m4 arriving drops one (m1)', () => {
    const queue = ['m1', 'm2', 'm3'];
    const drop = overflowCount(queue.length, 1, 3);
    expect(drop).toBe(1);
    expect([...queue, 'm4'].slice(drop)).toStrictEqual(['m2', 'm3', 'm4']);
  });

  it('as the session uses it (count already includes the arrivals, incoming 0): trims back to the maximum', () => {
    expect(overflowCount(1005, 0, 1000)).toBe(5);
    expect(overflowCount(1000, 0, 1000)).toBe(0);
  });

  it('never asks for a negative drop', () => {
    for (let queued = 0; queued < 5; queued++) {
      for (let incoming = 0; incoming < 5; incoming++) {
        const drop = overflowCount(queued, incoming, 6);
        expect(drop).toBeGreaterThanOrEqual(0);
        expect(queued + incoming - drop).toBeLessThanOrEqual(6);
      }
    }
  });

  it('a burst larger than the maximum keeps only its newest `maximum` messages', () => {
    const queue = ['m1', 'm2'];
    const arriving = ['m3', 'm4', 'm5', 'm6', 'm7'];
    const drop = overflowCount(queue.length, arriving.length, 3);
    expect([...queue, ...arriving].slice(drop)).toStrictEqual(['m5', 'm6', 'm7']);
  });
});
