// Backpressure both ways against a local `ws` server: a reader that stops makes the gateway stop reading the
// other side, so what the gateway holds stays bounded (GatewayStats.bufferedBytes, sampled throughout) while
// the writer is left stalled; once the reader resumes, every byte arrives, in order.
import { afterEach, expect, it } from 'vitest';
import { connectBytes, sleep, waitUntil } from '../integration/clients.js';
import { TcpClient, gatewayFor, patternBytes, startTarget } from './helpers.js';

const MIB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** More than the loopback kernel buffers of both hops hold, so the writer must stall. */
const TOTAL = 128 * MIB;
/** highWaterBytes 256 KiB + a socket read + one WebSocket message, with room to spare. */
const BOUND = 1 * MIB;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Checks a byte stream against patternBytes as it arrives, without keeping it. */
class PatternCheck {
  offset = 0;
  mismatchAt: number | undefined;
  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length && this.mismatchAt === undefined; i++) if (chunk[i] !== ((this.offset + i) & 0xff)) this.mismatchAt = this.offset + i;
    this.offset += chunk.length;
  }
}

/** The largest value `read` returns, sampled every few milliseconds until stop(). */
function sampleMax(read: () => number) {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, read())), 2);
  return { get max() { return max; }, stop: () => clearInterval(timer) };
}

/** Resolves once `progress()` has not grown for `quietMs`. */
async function stalled(progress: () => number, quietMs = 300): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const now = progress();
    if (now !== last) [last, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return now;
    await sleep(10);
  }
}

async function setup() {
  const target = await startTarget();
  const gateway = await gatewayFor(target.url);
  cleanups.push(() => target.close(), () => gateway.close());
  const client = new TcpClient(gateway.port);
  cleanups.push(async () => void client.socket.destroy());
  await client.write(connectBytes({ clientId: 'bp' }));
  const seen = await target.connection();
  await waitUntil(() => seen.bytes().length > 0, { what: 'the CONNECT at the target' });
  seen.received.length = 0;
  return { gateway, client, seen };
}

it('broker → client: a client that stops reading pauses the WebSocket; the gateway holds under 1 MiB, then delivers all', async () => {
  const { gateway, client, seen } = await setup();
  client.socket.pause();
  const check = new PatternCheck();
  client.socket.removeAllListeners('data'); // a paused socket stays paused when a listener is added
  client.socket.on('data', (chunk: Buffer) => check.push(chunk));
  const held = sampleMax(() => gateway.stats().bufferedBytes);

  // The target sends as fast as its own send buffer lets it (it holds at most 1 MiB itself).
  let sent = 0;
  const sending = (async () => {
    while (sent < TOTAL) {
      if (seen.socket.bufferedAmount < MIB) {
        seen.socket.send(patternBytes(CHUNK, sent));
        sent += CHUNK;
      } else await sleep(2);
    }
  })();
  const stalledAt = await stalled(() => sent);
  expect(stalledAt).toBeLessThan(TOTAL);
  expect(held.max).toBeLessThan(BOUND);

  client.socket.resume();
  await sending;
  await waitUntil(() => check.offset === TOTAL, { timeoutMs: 20_000, what: `all ${TOTAL} bytes at the client` });
  held.stop();
  expect(check.mismatchAt).toBeUndefined();
  expect(held.max).toBeLessThan(BOUND);
  console.log(`broker → client: writer stalled after ${(stalledAt / MIB).toFixed(1)} MiB; the gateway held at most ${(held.max / 1024).toFixed(0)} KiB`);
}, 40_000);

it('client → broker: a broker that stops reading pauses the TCP socket; the gateway holds under 1 MiB, then delivers all', async () => {
  const { gateway, client, seen } = await setup();
  seen.socket.pause();
  const check = new PatternCheck();
  seen.socket.removeAllListeners('message');
  seen.socket.on('message', (data: Buffer) => check.push(data));
  const held = sampleMax(() => gateway.stats().bufferedBytes);

  // The client writes as fast as its socket accepts: one chunk whenever the last one was taken.
  let written = 0;
  const writing = (async () => {
    while (written < TOTAL) {
      const chunk = patternBytes(CHUNK, written);
      written += CHUNK;
      if (!client.socket.write(chunk)) await new Promise((resolve) => client.socket.once('drain', resolve));
    }
  })();
  const stalledAt = await stalled(() => written);
  expect(stalledAt).toBeLessThan(TOTAL);
  expect(held.max).toBeLessThan(BOUND);

  seen.socket.resume();
  await writing;
  await waitUntil(() => check.offset === TOTAL, { timeoutMs: 20_000, what: `all ${TOTAL} bytes at the target` });
  held.stop();
  expect(check.mismatchAt).toBeUndefined();
  expect(held.max).toBeLessThan(BOUND);
  console.log(`client → broker: writer stalled after ${(stalledAt / MIB).toFixed(1)} MiB; the gateway held at most ${(held.max / 1024).toFixed(0)} KiB`);
}, 40_000);
