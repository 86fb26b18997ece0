// QoS 1 under a burst through a small inflight window: every message arrives, in order per publisher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionSettled, startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, subscribe } from './clients.js';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { MAX_INFLIGHT: '5' } });
});
afterAll(async () => {
  await broker?.stop();
});

describe('flow control', () => {
  it('[MQTT-4.6.0-5] 6 publishers × 150 QoS 1 messages through a window of 5: none lost, each in order', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'flow-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'flow/#', 1);
    const publishers = await Promise.all([...Array(6).keys()].map((p) => connectClient(broker.mqttUrl, { clientId: `flow-pub-${p}` })));
    // Two waves: the queue fills, everything is delivered and acknowledged (the session's outbound table
    // empties), then it fills again. A drain cursor that trusted SQLite rowids lost the second wave here.
    for (const wave of [0, 1]) {
      await Promise.all(
        publishers.map((client, p) => Promise.all([...Array(75).keys()].map((i) => publish(client, `flow/${p}`, `${p}:${wave * 75 + i}`, { qos: 1 })))),
      );
      await got.waitFor(450 * (wave + 1), 20_000);
      await sessionSettled(broker, 'flow-sub'); // the last PUBACKs reach the session: its outbound table is empty
    }
    const byPublisher = new Map<string, number[]>();
    for (const { payload } of got.messages) {
      const [p, n] = payload.split(':');
      byPublisher.set(p!, [...(byPublisher.get(p!) ?? []), Number(n)]);
    }
    for (const sequence of byPublisher.values()) expect(sequence).toEqual([...Array(150).keys()]);
    expect(got.messages).toHaveLength(900);
    await Promise.all([end(sub), ...publishers.map((client) => end(client))]);
  });
});
