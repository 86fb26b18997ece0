// DeliveryLanes: a session's copies reach it in planned order across the direct path and the relays.
import { describe, expect, it } from 'vitest';
import { DeliveryLanes } from '../../../core/routing/delivery-lanes.js';
import { deferred, type Deferred } from './deferred.js';


const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Paths that record what was handed to them, in order, and complete each copy by hand. */
function paths() {
  const handed: string[] = [];
  const pending = new Map<string, Deferred>();
  const handOver = (copy: string) => () => {
    handed.push(copy);
    const d = deferred();
    pending.set(copy, d);
    return d.promise;
  };
  const accept = (copy: string) => pending.get(copy)!.resolve();
  const fail = (copy: string) => pending.get(copy)!.reject(new Error(`${copy} failed`));
  return { handed, handOver, accept, fail };
}

describe('DeliveryLanes', () => {
  it('hands copies on one path over at once, in order', () => {
    const lanes = new DeliveryLanes();
    const p = paths();
    void lanes.run('s', 'direct', p.handOver('m1'));
    void lanes.run('s', 'direct', p.handOver('m2'));
    expect(p.handed).toStrictEqual(['m1', 'm2']);
  });

  it('a copy on another path waits until every earlier copy is accepted; later ones on its path queue behind it', async () => {
    const lanes = new DeliveryLanes();
    const p = paths();
    void lanes.run('s', 'direct', p.handOver('m1'));
    void lanes.run('s', 'direct', p.handOver('m2'));
    void lanes.run('s', 'relay 0', p.handOver('m3'));
    void lanes.run('s', 'relay 0', p.handOver('m4'));
    await settle();
    expect(p.handed).toStrictEqual(['m1', 'm2']);
    p.accept('m1');
    await settle();
    expect(p.handed).toStrictEqual(['m1', 'm2']);
    p.accept('m2');
    await settle();
    expect(p.handed).toStrictEqual(['m1', 'm2', 'm3', 'm4']);
    // m5 on the relay path, nothing waiting: at once.
    void lanes.run('s', 'relay 0', p.handOver('m5'));
    expect(p.handed).toStrictEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('a failed copy counts as done: the next path is not blocked forever', async () => {
    const lanes = new DeliveryLanes();
    const p = paths();
    const first = lanes.run('s', 'direct', p.handOver('m1'))!;
    void lanes.run('s', 'relay 1', p.handOver('m2'));
    p.fail('m1');
    await expect(first).rejects.toThrow('m1 failed');
    await settle();
    expect(p.handed).toStrictEqual(['m1', 'm2']);
  });

  it('other sessions are not held up by one session\'s path change', async () => {
    const lanes = new DeliveryLanes();
    const p = paths();
    void lanes.run('s', 'direct', p.handOver('s1'));
    void lanes.run('s', 'relay 0', p.handOver('s2'));
    void lanes.run('t', 'relay 0', p.handOver('t1'));
    expect(p.handed).toStrictEqual(['s1', 't1']);
  });

  it('forgets a session once nothing is outstanding, and then a path change is immediate', async () => {
    const lanes = new DeliveryLanes();
    const p = paths();
    void lanes.run('s', 'direct', p.handOver('m1'));
    expect(lanes.size).toBe(1);
    p.accept('m1');
    await settle();
    expect(lanes.size).toBe(0);
    void lanes.run('s', 'relay 2', p.handOver('m2'));
    expect(p.handed).toStrictEqual(['m1', 'm2']);
  });

  it('a chain of path changes keeps the order: direct → relay 0 → direct → relay 1', async () => {
    const lanes = new DeliveryLanes();
    const p = paths();
    const order = ['direct', 'relay 0', 'direct', 'relay 1'];
    order.forEach((path, i) => void lanes.run('s', path, p.handOver(`m${i}`)));
    for (let i = 0; i < order.length; i++) {
      await settle();
      expect(p.handed).toStrictEqual(order.slice(0, i + 1).map((_, j) => `m${j}`));
      p.accept(`m${i}`);
    }
  });

  it('enter() lets a caller hand several sessions\' copies over as one chunk', async () => {
    const lanes = new DeliveryLanes();
    const chunk = deferred();
    const a = lanes.enter('a', 'relay 0')!;
    const b = lanes.enter('b', 'relay 0')!;
    expect(a.after).toBeUndefined();
    expect(b.after).toBeUndefined();
    a.handed(chunk.promise);
    b.handed(chunk.promise);
    const next = lanes.enter('a', 'direct')!;
    expect(next.after).toBeDefined();
    let opened = false;
    void next.after!.then(() => (opened = true));
    await settle();
    expect(opened).toBe(false);
    chunk.resolve();
    await settle();
    expect(opened).toBe(true);
  });

  it('refuses a copy that would wait when maximumWaiting copies of its session wait already', () => {
    const lanes = new DeliveryLanes(2);
    const p = paths();
    void lanes.run('s', 'direct', p.handOver('m1'));
    expect(lanes.run('s', 'relay 0', p.handOver('m2'))).toBeDefined();
    expect(lanes.run('s', 'relay 0', p.handOver('m3'))).toBeDefined();
    expect(lanes.run('s', 'relay 0', p.handOver('m4'))).toBeUndefined();
    // A copy that need not wait is never refused.
    expect(lanes.run('t', 'relay 0', p.handOver('t1'))).toBeDefined();
  });
});
