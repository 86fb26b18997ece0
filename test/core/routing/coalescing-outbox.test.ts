// CoalescingOutbox: one send in flight, arrivals batched in order, failures confined to their batch, bounds.
import { describe, expect, it } from 'vitest';
import { CoalescingOutbox, FULL, OverloadCounts } from '../../../core/routing/coalescing-outbox.js';
import { isOverloaded } from '../../../core/errors.js';
import { deferred, type Deferred } from './deferred.js';


/** A send the test completes by hand; records each batch and how many sends overlap. */
function manualSend<T>() {
  const batches: T[][] = [];
  const pending: Deferred[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const send = (batch: T[]): Promise<void> => {
    batches.push(batch);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const d = deferred();
    pending.push(d);
    return d.promise.finally(() => {
      inFlight--;
    });
  };
  const current = (): Deferred => {
    const d = pending[batches.length - 1];
    if (!d) throw new Error('no send in flight');
    return d;
  };
  return {
    send,
    batches,
    maxInFlight: () => maxInFlight,
    succeed: () => current().resolve(),
    fail: (error: unknown) => current().reject(error),
  };
}

/** Lets every queued microtask and promise continuation run. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

type Outcome = 'pending' | 'resolved' | { rejected: unknown };

function track(promise: Promise<void>): () => Outcome {
  let outcome: Outcome = 'pending';
  promise.then(
    () => {
      outcome = 'resolved';
    },
    (error: unknown) => {
      outcome = { rejected: error };
    },
  );
  return () => outcome;
}

describe('CoalescingOutbox', () => {
  it('sends the first item at once, on its own', () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send);
    void outbox.push('a');
    expect(s.batches).toStrictEqual([['a']]);
  });

  it('items pushed while a send is in flight go out together as the next batch, in push order', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send);
    const pushed = ['a', 'b', 'c', 'd'].map((item) => outbox.push(item));
    expect(s.batches).toStrictEqual([['a']]);
    s.succeed();
    await settle();
    expect(s.batches).toStrictEqual([['a'], ['b', 'c', 'd']]);
    s.succeed();
    await Promise.all(pushed);
    expect(s.batches).toHaveLength(2);
  });

  it('never has more than one send in flight', async () => {
    const s = manualSend<number>();
    const outbox = new CoalescingOutbox(s.send, { maximumBatch: 3 });
    const pushed: Promise<void>[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 4; i++) pushed.push(outbox.push(round * 4 + i));
      s.succeed();
      await settle();
    }
    while (!outbox.idle) {
      s.succeed();
      await settle();
    }
    await Promise.all(pushed);
    expect(s.maxInFlight()).toBe(1);
    expect(s.batches.flat()).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('respects maximumBatch, splitting a backlog in order', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send, { maximumBatch: 2 });
    const pushed = ['a', 'b', 'c', 'd', 'e', 'f'].map((item) => outbox.push(item));
    for (let i = 0; i < 4; i++) {
      s.succeed();
      await settle();
    }
    await Promise.all(pushed);
    expect(s.batches).toStrictEqual([['a'], ['b', 'c'], ['d', 'e'], ['f']]);
  });

  it('defaults maximumBatch to 500', async () => {
    const batches: number[][] = [];
    const outbox = new CoalescingOutbox<number>(async (batch) => {
      batches.push(batch);
    });
    await Promise.all(Array.from({ length: 1001 }, (_, i) => outbox.push(i)));
    expect(batches.map((batch) => batch.length)).toStrictEqual([1, 500, 500]);
    expect(batches.flat()).toStrictEqual(Array.from({ length: 1001 }, (_, i) => i));
  });

  it('resolves an item\'s promise only when the send of its batch has resolved', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send);
    const a = track(outbox.push('a'));
    const b = track(outbox.push('b'));
    await settle();
    expect([a(), b()]).toStrictEqual(['pending', 'pending']);
    s.succeed();
    await settle();
    expect([a(), b()]).toStrictEqual(['resolved', 'pending']);
    s.succeed();
    await settle();
    expect([a(), b()]).toStrictEqual(['resolved', 'resolved']);
  });

  it('a failed send rejects exactly that batch\'s promises with its error, and the next batch still goes', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send);
    const a = track(outbox.push('a'));
    s.succeed();
    const b = track(outbox.push('b'));
    const c = track(outbox.push('c'));
    await settle();
    expect(s.batches).toStrictEqual([['a'], ['b', 'c']]);
    const d = track(outbox.push('d'));
    const failure = new Error('peer unavailable');
    s.fail(failure);
    await settle();
    expect(s.batches).toStrictEqual([['a'], ['b', 'c'], ['d']]);
    s.succeed();
    await settle();
    expect(a()).toBe('resolved');
    expect(b()).toStrictEqual({ rejected: failure });
    expect(c()).toStrictEqual({ rejected: failure });
    expect(d()).toBe('resolved');
    expect(outbox.idle).toBe(true);
  });

  it('a send that throws synchronously fails its batch like a rejected one', async () => {
    const failure = new Error('sync throw');
    let calls = 0;
    const outbox = new CoalescingOutbox<string>((batch) => {
      calls++;
      if (batch.includes('bad')) throw failure;
      return Promise.resolve();
    });
    const bad = track(outbox.push('bad'));
    const good = track(outbox.push('good'));
    await settle();
    expect(bad()).toStrictEqual({ rejected: failure });
    expect(good()).toBe('resolved');
    expect(calls).toBe(2);
    expect(outbox.idle).toBe(true);
  });

  it('idle is true before any push, false while queued or in flight, and true once drained', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send);
    expect(outbox.idle).toBe(true);
    void outbox.push('a');
    void outbox.push('b');
    expect(outbox.idle).toBe(false);
    s.succeed();
    await settle();
    expect(outbox.idle).toBe(false);
    s.succeed();
    await settle();
    expect(outbox.idle).toBe(true);
  });

  it('calls onIdle once when everything pushed has been sent, with idle already true', async () => {
    const s = manualSend<string>();
    const idleSeen: boolean[] = [];
    const outbox: CoalescingOutbox<string> = new CoalescingOutbox(s.send, { onIdle: () => idleSeen.push(outbox.idle) });
    void outbox.push('a');
    void outbox.push('b');
    s.succeed();
    await settle();
    expect(idleSeen).toStrictEqual([]);
    s.succeed();
    await settle();
    expect(idleSeen).toStrictEqual([true]);
  });

  it('calls onIdle after a drain that ended in a failure', async () => {
    let idleCalls = 0;
    const outbox = new CoalescingOutbox<string>(() => Promise.reject(new Error('down')), { onIdle: () => idleCalls++ });
    await expect(outbox.push('a')).rejects.toThrow('down');
    await settle();
    expect(idleCalls).toBe(1);
    expect(outbox.idle).toBe(true);
  });

  it('starts a new drain for a push after it went idle, and reports idle again', async () => {
    const batches: string[][] = [];
    let idleCalls = 0;
    const outbox = new CoalescingOutbox<string>(
      async (batch) => {
        batches.push(batch);
      },
      { onIdle: () => idleCalls++ },
    );
    await outbox.push('a');
    await settle();
    expect(idleCalls).toBe(1);
    await outbox.push('b');
    await settle();
    expect(batches).toStrictEqual([['a'], ['b']]);
    expect(idleCalls).toBe(2);
  });

  it('accepts a push from inside onIdle (an owner reusing the outbox)', async () => {
    const batches: string[][] = [];
    let again: Promise<void> | undefined;
    const outbox: CoalescingOutbox<string> = new CoalescingOutbox<string>(
      async (batch) => {
        batches.push(batch);
      },
      {
        onIdle: () => {
          again ??= outbox.push('late');
        },
      },
    );
    await outbox.push('first');
    await settle();
    expect(again).toBeDefined();
    await again;
    await settle();
    expect(batches).toStrictEqual([['first'], ['late']]);
    expect(outbox.idle).toBe(true);
  });

  it('works without an onIdle callback', async () => {
    const outbox = new CoalescingOutbox<number>(async () => {});
    await expect(Promise.all([outbox.push(1), outbox.push(2)])).resolves.toBeDefined();
    expect(outbox.idle).toBe(true);
  });
});

describe('CoalescingOutbox with a deferred first flush', () => {
  it('items pushed before the scheduled flush runs all go in the first batch, in order', async () => {
    const batches: number[][] = [];
    let flush: (() => void) | undefined;
    const outbox = new CoalescingOutbox<number>(
      async (batch) => {
        batches.push(batch);
      },
      {
        schedule: (run) => {
          flush = run;
        },
      },
    );
    const pushed = [outbox.push(1), outbox.push(2), outbox.push(3)];
    expect(batches).toEqual([]);
    expect(outbox.idle).toBe(false);
    flush!();
    await Promise.all(pushed);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(outbox.idle).toBe(true);
  });
});

describe('CoalescingOutbox bounds', () => {
  const bytes = (item: string) => item.length;

  it('a batch stops before the item that would pass maximumBatchBytes, in order', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send, { maximumBatchBytes: 10, size: bytes });
    const pushed = ['a', 'bbbb', 'cccc', 'dd', 'eeeeeeee', 'f'].map((item) => outbox.push(item));
    while (!outbox.idle) {
      s.succeed();
      await settle();
    }
    await Promise.all(pushed);
    // 'a' alone (the first flush), then 4 + 4 + 2 = 10, then 8 + 1.
    expect(s.batches).toStrictEqual([['a'], ['bbbb', 'cccc', 'dd'], ['eeeeeeee', 'f']]);
  });

  it('an item larger than maximumBatchBytes goes alone: 500 items of 1.9 MB are not one call', async () => {
    const sizes: number[] = [];
    const megabytes = 1_900_000;
    const drained = new CoalescingOutbox<number>(
      async (batch) => {
        sizes.push(batch.reduce((sum, item) => sum + item, 0));
      },
      { maximumBatchBytes: 4 * 1024 * 1024, size: (item) => item, schedule: (flush) => setTimeout(flush, 0) },
    );
    await Promise.all(Array.from({ length: 500 }, () => drained.push(megabytes)));
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(500 * megabytes);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(sizes).toHaveLength(250);

    const huge: number[][] = [];
    const alone = new CoalescingOutbox<number>(
      async (batch) => {
        huge.push(batch);
      },
      { maximumBatchBytes: 10, size: (item) => item, schedule: (flush) => setTimeout(flush, 0) },
    );
    await Promise.all([alone.push(50), alone.push(60), alone.push(1)]);
    expect(huge).toStrictEqual([[50], [60], [1]]);
  });

  it('offer answers FULL at maximumItems held (queued plus in flight) and queues nothing', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send, { maximumItems: 3 });
    const a = outbox.offer('a');
    const b = outbox.offer('b');
    const c = outbox.offer('c');
    expect([a, b, c].every((offered) => offered !== FULL)).toBe(true);
    expect(outbox.offer('d')).toBe(FULL);
    expect(outbox.held).toStrictEqual({ items: 3, bytes: 0 });
    s.succeed(); // 'a' sent, ['b', 'c'] in flight: room for one more
    await settle();
    expect(outbox.offer('e')).not.toBe(FULL);
    expect(outbox.offer('f')).toBe(FULL);
    for (let i = 0; i < 2; i++) {
      s.succeed();
      await settle();
    }
    expect(s.batches).toStrictEqual([['a'], ['b', 'c'], ['e']]);
    expect(outbox.idle).toBe(true);
    expect(outbox.held).toStrictEqual({ items: 0, bytes: 0 });
  });

  it('offer answers FULL when the bytes held would pass maximumBytes; an empty outbox takes any one item', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send, { maximumBytes: 5, size: bytes });
    expect(outbox.offer('xxxxxxxx')).not.toBe(FULL); // 8 > 5, but the outbox was empty
    expect(outbox.offer('y')).toBe(FULL);
    s.succeed();
    await settle();
    expect(outbox.held).toStrictEqual({ items: 0, bytes: 0 });
    expect(outbox.offer('yyy')).not.toBe(FULL);
    expect(outbox.offer('zz')).not.toBe(FULL); // 3 + 2 = 5
    expect(outbox.offer('w')).toBe(FULL);
    expect(outbox.held).toStrictEqual({ items: 2, bytes: 5 });
  });

  it('a failed send releases its items from the bounds too', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send, { maximumItems: 1 });
    const a = track(outbox.push('a'));
    expect(outbox.offer('b')).toBe(FULL);
    s.fail(new Error('down'));
    await settle();
    expect(a()).toStrictEqual({ rejected: new Error('down') });
    expect(outbox.offer('b')).not.toBe(FULL);
  });

  it('push rejects with an OverloadedError when full (what a QoS 1/2 caller turns into a refused publish)', async () => {
    const s = manualSend<string>();
    const outbox = new CoalescingOutbox(s.send, { maximumItems: 1 });
    void outbox.push('a');
    const refused = outbox.push('b');
    await expect(refused).rejects.toSatisfy(isOverloaded);
    expect(s.batches).toStrictEqual([['a']]);
  });
});

describe('OverloadCounts', () => {
  it('[MQTT-4.3.1] counts a QoS 0 copy a full outbox did not take as dropped, a QoS 1/2 one as refused', () => {
    const counts = new OverloadCounts();
    expect([counts.shed(0), counts.shed(1), counts.shed(2), counts.shed(0)]).toEqual([false, true, true, false]);
    expect({ ...counts }).toEqual({ droppedQos0: 2, refusedOverload: 2 });
  });
});
