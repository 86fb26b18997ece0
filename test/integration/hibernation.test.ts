// An idle object bills no duration only if it qualifies for hibernation: no timer and no promise left
// pending (DESIGN §4). workerd hibernates such an object after about 10 s without events, and its
// constructor runs again at the next one: its counters' `since` changes. An object that kept a timer after a
// burst (a housekeeping timer never cleared, a keep-awake for messages it no longer holds) keeps its `since`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, recorder, sleep, subscribe } from './clients.js';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { SHARD_COUNT: '1' } });
});
afterAll(async () => {
  await broker?.stop();
});

async function since(binding: 'SESSION' | 'SHARD', name: string): Promise<number> {
  const namespace = await broker.miniflare.getDurableObjectNamespace(binding);
  const stub = namespace.get(namespace.idFromName(name)) as unknown as { invocationCounts(): Promise<{ since: number }> };
  return (await stub.invocationCounts()).since;
}

/** Idle time after which every object of the burst must have hibernated: workerd's 10 s, the mark's 1 s, slack. */
const IDLE_MS = 16_000;

describe('objects hibernate after a burst', () => {
  it('[DESIGN §4] session and shard objects qualify for hibernation after a QoS 0/1/2 burst to clean and persistent subscribers, their clients still connected', async () => {
    const clean = await connectClient(broker.mqttUrl, { clientId: 'hib-clean', clean: true });
    const persistent = await connectClient(broker.mqttUrl, { clientId: 'hib-persistent', clean: false });
    const publisher = await connectClient(broker.mqttUrl, { clientId: 'hib-pub' });
    const received = [recorder(clean), recorder(persistent)];
    for (const client of [clean, persistent]) await subscribe(client, 'hib/#', 2);
    const BURST = 150;
    for (let i = 0; i < BURST; i++) publisher.publish(`hib/${i % 3}`, String(i), { qos: (i % 3) as 0 | 1 | 2 });
    for (const got of received) await got.waitFor(BURST, 20_000);
    // No RPC to the objects from here on: a stub call is an event, and would restart their idle time.
    await sleep(500); // the last acknowledgements arrive
    const burstEnded = Date.now();
    await sleep(IDLE_MS);
    const restarted = {
      clean: (await since('SESSION', 'default\u0000hib-clean')) > burstEnded,
      persistent: (await since('SESSION', 'default\u0000hib-persistent')) > burstEnded,
      publisher: (await since('SESSION', 'default\u0000hib-pub')) > burstEnded,
      shard: (await since('SHARD', 'default\u0000shard\u00000')) > burstEnded,
    };
    expect(restarted).toStrictEqual({ clean: true, persistent: true, publisher: true, shard: true });
    // Hibernation kept the connections: a message still reaches both subscribers.
    publisher.publish('hib/again', 'after', { qos: 1 });
    for (const got of received) await got.waitFor(BURST + 1, 10_000);
    await Promise.all([end(clean), end(persistent), end(publisher)]);
  }, 60_000);
});
