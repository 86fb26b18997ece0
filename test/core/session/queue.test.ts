// SessionQueue: the queued messages' sizes, oldest first, and the drop that keeps both bounds.
import { describe, expect, it } from 'vitest';
import { SessionQueue } from '../../../core/session/queue.js';

describe('SessionQueue', () => {
  it('counts messages and payload bytes as they are queued, read and dropped', () => {
    const queue = new SessionQueue([4, 4]);
    queue.push(4);
    expect([queue.length, queue.bytes]).toEqual([3, 12]);
    queue.shift();
    expect([queue.length, queue.bytes]).toEqual([2, 8]);
    queue.dropOldest(1);
    expect([queue.length, queue.bytes]).toEqual([1, 4]);
    queue.clear();
    expect([queue.length, queue.bytes]).toEqual([0, 0]);
    queue.shift(); // reading an empty queue changes nothing
    expect([queue.length, queue.bytes]).toEqual([0, 0]);
  });

  it('[DESIGN §3] overflow: the count bound first, then as many of the next oldest as the byte bound needs', () => {
    expect(new SessionQueue([4, 4, 4]).overflow(10, 10)).toEqual({ byCount: 0, byBytes: 1 });
    expect(new SessionQueue([3, 3, 3, 5]).overflow(3, 10)).toEqual({ byCount: 1, byBytes: 1 });
    expect(new SessionQueue([1, 1]).overflow(3, 10)).toEqual({ byCount: 0, byBytes: 0 });
    // One message larger than the byte bound goes too: nothing is left.
    expect(new SessionQueue([2, 20]).overflow(10, 10)).toEqual({ byCount: 0, byBytes: 2 });
  });
});
