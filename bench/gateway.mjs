// `node bench/gateway.mjs`: what the TCP → WebSocket gateway (scripts/gateway) costs, on this machine.
//
//   1. latency: sequential publish → receive round trips, QoS 0 and 1, publisher and subscriber both over TCP
//      through the gateway vs both over WebSocket straight to the broker (workerd via Miniflare); p50/p99
//   2. throughput: one publisher → one subscriber as fast as a bounded window allows, the same two paths
//   3. idle connections: RSS and heap per connection in a gateway process, and how many it holds, against a
//      trivial local `ws` server (the broker would run out first); 2 file descriptors per connection
//
//   node bench/gateway.mjs                   about 2 minutes
//   node bench/gateway.mjs --quick           about 1 minute
//   node bench/gateway.mjs --connections 5000 --json out.json
//
// The gateway and the trivial target run in child processes (this file, forked with --role), so their memory
// is theirs alone. Bounded: every phase has a count and a deadline, and a hard limit stops the whole run.
import { execSync, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import { CONNACK, DISCONNECT_BYTES, PUBACK, PUBLISH, SUBACK, StreamParser, encodeConnect, encodePuback, encodeSubscribe, publishTemplate, readPublish } from './mqtt-lite.mjs';

const self = fileURLToPath(import.meta.url);
const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    target: { type: 'string' },
    quick: { type: 'boolean', default: false },
    connections: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

// ── child processes ──────────────────────────────────────────────────────────────────────────────────

/** The gateway, in-process here, answering the parent's requests for its port, memory and counters. */
async function gatewayChild(target) {
  const { startGateway } = await import('../scripts/gateway/index.js');
  const gateway = await startGateway({ target, host: '127.0.0.1', port: 0, connectTimeoutMs: 120_000 });
  process.on('message', (message) => {
    if (message === 'memory') {
      globalThis.gc?.();
      globalThis.gc?.();
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      process.send?.({ rss, heapUsed, external, arrayBuffers, stats: gateway.stats() });
    } else if (message === 'stop') void gateway.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0)); // the parent is gone: so is this
  process.send?.({ port: gateway.port });
}

/** A trivial MQTT-over-WebSocket target: accepts, reads, says nothing. */
async function targetChild() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: () => 'mqtt', backlog: 4096 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => socket.on('message', () => {}));
  process.on('message', (message) => {
    if (message === 'count') process.send?.({ count: server.clients.size });
    else if (message === 'stop') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ port: server.address().port });
}

/** Forks this file with a role; resolves with the child and its first message. */
async function forkRole(role, extra = [], execArgv = []) {
  const child = fork(self, ['--role', role, ...extra], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${role} child exited with ${code}`)));
  });
  return { child, first, ask: (message) => new Promise((resolve) => (child.once('message', resolve), child.send(message))) };
}

// ── a lean client over TCP or WebSocket ──────────────────────────────────────────────────────────────

/** One MQTT 3.1.1 connection, TCP (`{ port }`) or WebSocket (`{ url }`), with mqtt-lite's encoders. */
class LeanClient {
  constructor(address, clientId, { onPublish = () => {}, onPuback = () => {} } = {}) {
    this.address = address;
    this.clientId = clientId;
    this.onPublish = onPublish;
    this.onPuback = onPuback;
    this.waiters = new Map();
    this.parser = new StreamParser((type, flags, buf, start, end) => {
      if (type === PUBLISH) {
        const publish = readPublish(flags, buf, start, end);
        this.onPublish(buf, publish);
        if (publish.qos === 1) this.send(encodePuback(publish.packetId));
      } else if (type === PUBACK) this.onPuback(buf.readUInt16BE(start));
      const wake = this.waiters.get(type);
      if (wake) (this.waiters.delete(type), wake());
    });
  }

  awaitPacket(type, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.clientId}: no ${what} within 10 s`)), 10_000);
      this.waiters.set(type, () => (clearTimeout(timer), resolve()));
    });
  }

  async connect() {
    const connack = this.awaitPacket(CONNACK, 'CONNACK');
    if (this.address.url) {
      this.ws = new WebSocket(this.address.url, 'mqtt', { perMessageDeflate: false });
      this.ws.on('message', (data) => this.parser.push(data));
      await new Promise((resolve, reject) => this.ws.once('open', resolve).once('error', reject));
      this.send = (bytes) => this.ws.send(bytes);
    } else {
      this.socket = connect(this.address.port, '127.0.0.1');
      this.socket.setNoDelay(true);
      this.socket.on('data', (chunk) => this.parser.push(chunk));
      await new Promise((resolve, reject) => this.socket.once('connect', resolve).once('error', reject));
      this.send = (bytes) => this.socket.write(bytes);
    }
    this.send(encodeConnect(this.clientId, 60));
    await connack;
  }

  send() {
    throw new Error('not connected');
  }

  async subscribe(topic, qos) {
    const suback = this.awaitPacket(SUBACK, 'SUBACK');
    this.send(encodeSubscribe(1, [{ topic, qos }]));
    await suback;
  }

  close() {
    this.send(DISCONNECT_BYTES);
    this.ws?.close();
    this.socket?.end();
  }
}

// ── measurements ─────────────────────────────────────────────────────────────────────────────────────

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let runs = 0;

/** A publisher and a subscriber on one path, topic of their own; `onReceive(seq)` for each delivery. */
async function pair(address, qos, onReceive, onPuback) {
  const tag = `gwb-${++runs}`;
  const topic = `bench/${tag}`;
  const sub = new LeanClient(address, `${tag}-s`, { onPublish: (buf, p) => onReceive(buf.readUInt32BE(p.payloadStart)) });
  const pub = new LeanClient(address, `${tag}-p`, { onPuback });
  await sub.connect();
  await pub.connect();
  await sub.subscribe(topic, qos);
  const template = publishTemplate(topic, qos, 32);
  const publish = (seq) => {
    const bytes = template.encode((seq % 65535) + 1);
    bytes.writeUInt32BE(seq, template.payloadOffset);
    pub.send(bytes);
  };
  return { publish, close: () => (sub.close(), pub.close()) };
}

/** `count` sequential round trips: each publish waits for the previous one's delivery. Milliseconds each. */
async function roundTrips(address, qos, count) {
  let wake = () => {};
  let received = -1;
  const path = await pair(address, qos, (seq) => ((received = seq), wake()), () => {});
  const latencies = [];
  try {
    for (let seq = 0; seq < count + 20; seq++) {
      const arrived = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`round trip ${seq} lost`)), 10_000);
        wake = () => received === seq && (clearTimeout(timer), resolve());
      });
      const t0 = performance.now();
      path.publish(seq);
      await arrived;
      if (seq >= 20) latencies.push(performance.now() - t0); // the first 20 warm the path up
    }
  } finally {
    path.close();
  }
  return latencies;
}

/** Messages delivered per second over `durationMs`, at most `window` unacknowledged (QoS 1) or undelivered (QoS 0). */
async function throughput(address, qos, durationMs, window = 200) {
  let sent = 0;
  let delivered = 0;
  let acked = 0;
  let kick = () => {};
  const path = await pair(address, qos, () => (delivered++, kick()), () => (acked++, kick()));
  try {
    const t0 = performance.now();
    await new Promise((resolve) => {
      kick = () => {
        if (performance.now() - t0 >= durationMs) return resolve();
        const outstanding = qos === 0 ? sent - delivered : sent - acked;
        for (let k = outstanding; k < window; k++) path.publish(sent++);
      };
      kick();
      setTimeout(resolve, durationMs + 100);
    });
    const seconds = (performance.now() - t0) / 1000;
    return { sent, delivered, perSecond: Math.round(delivered / seconds) };
  } finally {
    kick = () => {};
    path.close();
  }
}

/** Opens `count` idle TCP connections through the gateway, each having sent its CONNECT, `batch` at a time. */
async function openIdle(port, count, batch = 250) {
  const sockets = [];
  let failure;
  for (let i = 0; i < count && !failure; i += batch) {
    const opened = await Promise.allSettled(
      Array.from({ length: Math.min(batch, count - i) }, (_, k) => new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.write(encodeConnect(`idle-${i + k}`, 0)), resolve(socket)));
        socket.once('error', reject);
      })),
    );
    for (const result of opened) {
      if (result.status === 'fulfilled') sockets.push(result.value.on('error', () => {}));
      else failure ??= result.reason;
    }
  }
  return { sockets, failure };
}

async function main() {
  const quick = args.quick;
  const config = {
    roundTrips: quick ? 400 : 1500,
    rounds: quick ? 2 : 3, // the two paths take turns, so a slow spell of the machine hits both
    throughputMs: quick ? 1500 : 3000,
    connections: Number(args.connections ?? 10_000),
  };
  const hardLimitMs = quick ? 3 * 60_000 : 6 * 60_000;
  const children = [];
  let broker;
  const stopAll = async () => {
    for (const child of children) child.kill('SIGKILL');
    await broker?.stop().catch(() => {});
  };
  setTimeout(async () => {
    console.error(`bench: hard time limit of ${hardLimitMs / 1000} s reached, stopping`);
    await stopAll();
    process.exit(2);
  }, hardLimitMs).unref();

  const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, ulimitN: fdLimit };
  console.log(`gateway bench: ${machine.cpus} × ${machine.cpu}, Node ${machine.node}, ulimit -n ${fdLimit}${quick ? ' (quick)' : ''}`);
  const results = { machine, config };

  try {
    // ── 1 and 2: against the real broker ──
    const { loadStartBroker } = await import('./targets.mjs');
    const startBroker = await loadStartBroker();
    broker = await startBroker({ vars: { ALLOW_ANONYMOUS: 'true' } });
    const gw = await forkRole('gateway', ['--target', broker.mqttUrl]);
    children.push(gw.child);
    const paths = { direct: { url: broker.mqttUrl }, gateway: { port: gw.first.port } };

    results.latency = {};
    for (const qos of [0, 1]) {
      const samples = { direct: [], gateway: [] };
      for (let round = 0; round < config.rounds; round++) {
        for (const name of ['direct', 'gateway']) samples[name].push(...(await roundTrips(paths[name], qos, Math.ceil(config.roundTrips / config.rounds))));
      }
      const figures = Object.fromEntries(
        Object.entries(samples).map(([name, values]) => {
          const sorted = values.sort((a, b) => a - b);
          return [name, { n: sorted.length, p50: +percentile(sorted, 50).toFixed(3), p99: +percentile(sorted, 99).toFixed(3) }];
        }),
      );
      const added = { p50: +(figures.gateway.p50 - figures.direct.p50).toFixed(3), p99: +(figures.gateway.p99 - figures.direct.p99).toFixed(3) };
      results.latency[`qos${qos}`] = { ...figures, added };
      console.log(
        `latency QoS ${qos}: direct p50 ${figures.direct.p50} ms p99 ${figures.direct.p99} ms | gateway p50 ${figures.gateway.p50} ms p99 ${figures.gateway.p99} ms | added p50 ${added.p50} ms p99 ${added.p99} ms`,
      );
    }

    results.throughput = {};
    for (const qos of [0, 1]) {
      const direct = await throughput(paths.direct, qos, config.throughputMs);
      const gateway = await throughput(paths.gateway, qos, config.throughputMs);
      results.throughput[`qos${qos}`] = { direct, gateway, ratio: +(gateway.perSecond / direct.perSecond).toFixed(2) };
      console.log(`throughput QoS ${qos}: direct ${direct.perSecond} msg/s | gateway ${gateway.perSecond} msg/s (×${results.throughput[`qos${qos}`].ratio})`);
    }
    gw.child.send('stop');
    await broker.stop();
    broker = undefined;

    // ── 3: idle connections against a trivial target ──
    const target = await forkRole('target');
    children.push(target.child);
    const idleGw = await forkRole('gateway', ['--target', `ws://127.0.0.1:${target.first.port}/mqtt`], ['--expose-gc']);
    children.push(idleGw.child);
    // Two descriptors per connection in the gateway (client socket, WebSocket), one in this process and in
    // the target: the descriptor limit, not memory, sets the ceiling.
    const ceiling = Math.floor((fdLimit - 100) / 2);
    const wanted = Math.min(config.connections, ceiling);
    if (wanted < config.connections) console.log(`idle: ${config.connections} asked, ${wanted} fit in ulimit -n ${fdLimit} (2 descriptors each in the gateway)`);

    const warm = await openIdle(idleGw.first.port, 200); // JIT and pools warm, not counted
    await waitCount(target, 200);
    for (const socket of warm.sockets) socket.destroy();
    await waitCount(target, 0);
    await sleep(500);
    const before = await idleGw.ask('memory');
    const t0 = performance.now();
    const { sockets, failure } = await openIdle(idleGw.first.port, wanted);
    await waitCount(target, sockets.length, 60_000);
    const openSeconds = (performance.now() - t0) / 1000;
    await sleep(1000);
    const after = await idleGw.ask('memory');
    const held = after.stats.connectionsActive;
    const per = (field) => Math.round((after[field] - before[field]) / held);
    results.idle = {
      asked: config.connections,
      attempted: wanted,
      held,
      failure: failure ? String(failure.message ?? failure) : undefined,
      openSeconds: +openSeconds.toFixed(1),
      before: { rss: before.rss, heapUsed: before.heapUsed },
      after: { rss: after.rss, heapUsed: after.heapUsed, external: after.external, arrayBuffers: after.arrayBuffers },
      perConnection: { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') },
    };
    console.log(
      `idle: ${held} connections held (opened in ${openSeconds.toFixed(1)} s${failure ? `, stopped by ${results.idle.failure}` : ''}); ` +
        `gateway RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB; ` +
        `per connection: RSS ${(per('rss') / 1024).toFixed(1)} KiB, heap ${(per('heapUsed') / 1024).toFixed(1)} KiB, external ${(per('external') / 1024).toFixed(1)} KiB`,
    );
    for (const socket of sockets) socket.destroy();
  } finally {
    await stopAll();
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
}

/** Waits until the trivial target holds `count` WebSockets. */
async function waitCount(target, count, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { count: now } = await target.ask('count');
    if (now === count) return;
    if (Date.now() > deadline) throw new Error(`target holds ${now} connections, expected ${count}`);
    await sleep(100);
  }
}

function mib(bytes) {
  return (bytes / 1024 / 1024).toFixed(1);
}

if (args.role === 'gateway') await gatewayChild(args.target ?? '');
else if (args.role === 'target') await targetChild();
else if (args.help) console.log('usage: node bench/gateway.mjs [--quick] [--connections N] [--json FILE]');
else await main();
