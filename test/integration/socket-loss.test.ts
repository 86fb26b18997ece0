// A client that drops its TCP connection without a WebSocket close frame: an expected event, not an error.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, recorder, subscribe } from './clients.js';

/**
 * What workerd itself reports when the socket of a Response's WebSocket is lost: the request's coupled pump
 * fails with DISCONNECTED, and workerd logs that as the fetch handler's uncaught exception, without a script
 * frame (worker-entrypoint.c++). No JavaScript sees it, so none can catch it; wrangler dev prints it as
 * "✘ [ERROR] Uncaught Error: Network connection lost." (README, Notes). Anything else is ours.
 */
const PLATFORM_SOCKET_LOSS = /^Uncaught Error: Network connection lost\.\n$/;

let broker: RunningBroker;
const output: string[] = [];
beforeAll(async () => {
  broker = await startBroker({ output });
});
afterAll(async () => {
  await broker?.stop();
});

it('[MQTT-3.1.2-8] a TCP loss without a close frame publishes the will, and the broker reports no error of its own', async () => {
  const watcher = await connectClient(broker.mqttUrl, { clientId: 'loss-watcher' });
  const got = recorder(watcher);
  await subscribe(watcher, 'loss/will');
  for (let i = 0; i < 3; i++) {
    const raw = new RawClient(broker.mqttUrl, 'mqtt');
    await raw.send(connectBytes({ clientId: `lossy-${i}`, will: { topic: 'loss/will', payload: `gone-${i}` } }));
    await raw.until((bytes) => bytes.length >= 4);
    raw.terminate();
  }
  await got.waitFor(3);
  expect(got.messages.map((m) => m.payload).sort()).toEqual(['gone-0', 'gone-1', 'gone-2']);
  await end(watcher);
  const reported = output.join('').split(/(?<=\n)/);
  expect(reported.filter((line) => /Uncaught|\[ERROR\]|\berror\b/i.test(line) && !PLATFORM_SOCKET_LOSS.test(line))).toEqual([]);
});
