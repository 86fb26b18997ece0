// `node bench/profile.mjs [fanin0|fanin1|pairs|connect] [seconds]`: a CPU profile of workerd (the Worker and
// every Durable Object, one isolate locally) while one bench flow runs, summed by function (self time).
// Prints the top functions and the share of time per source file; writes the raw .cpuprofile (open it in
// Chrome DevTools) to bench/profile-<flow>.cpuprofile (not committed).
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { connectRun, flowRun, topologies } from './scenarios.mjs';
import { startOurs } from './targets.mjs';

const flow = process.argv[2] ?? 'fanin0';
const seconds = Number(process.argv[3] ?? 4);

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One DevTools protocol session per inspectable isolate. */
async function openSessions(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  return Promise.all(
    targets.map(
      (target) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(target.webSocketDebuggerUrl);
          let id = 0;
          const waiting = new Map();
          ws.on('message', (data) => {
            const message = JSON.parse(data.toString());
            if (message.id !== undefined && waiting.has(message.id)) {
              waiting.get(message.id)(message);
              waiting.delete(message.id);
            }
          });
          ws.on('open', () =>
            resolve({
              title: target.title,
              call: (method, params = {}) =>
                new Promise((done) => {
                  waiting.set(++id, done);
                  ws.send(JSON.stringify({ id, method, params }));
                }),
              close: () => ws.close(),
            }),
          );
          ws.on('error', reject);
        }),
    ),
  );
}

function summarize(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const files = new Map();
  const total = profile.samples.length;
  for (const id of profile.samples) {
    const frame = byId.get(id).callFrame;
    const file = (frame.url || '(native)').split('/').pop();
    const key = `${frame.functionName || '(anonymous)'}  ${file}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
    files.set(file, (files.get(file) ?? 0) + 1);
  }
  const top = (map, n) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
  return { total, functions: top(self, 40), files: top(files, 15) };
}

const port = await freePort();
process.env.BENCH_INSPECTOR_PORT = String(port);
const target = await startOurs();
try {
  const sessions = await openSessions(port);
  for (const s of sessions) {
    await s.call('Profiler.enable');
    await s.call('Profiler.setSamplingInterval', { interval: 200 });
  }
  const options = {
    fanin0: { name: 'fanin0', topology: topologies.fanIn(10), qos: 0, window: 100 },
    fanin1: { name: 'fanin1', topology: topologies.fanIn(10), qos: 1, window: 100 },
    pairs: { name: 'pairs', topology: topologies.pairs(50), qos: 0, window: 50 },
  }[flow];
  // Warm up once unprofiled (first-call compilation, object creation), then profile a second run.
  if (options) await flowRun(target, { ...options, durationMs: 1000, warmupMs: 300 });
  for (const s of sessions) await s.call('Profiler.start');
  const result = options
    ? await flowRun(target, { ...options, durationMs: seconds * 1000, warmupMs: 300 })
    : await connectRun(target, { clients: 500, concurrency: 50, measureMemory: false });
  for (const s of sessions) {
    const { result: stopped } = await s.call('Profiler.stop');
    if (!stopped?.profile || stopped.profile.samples.length === 0) continue;
    const file = `bench/profile-${flow}${sessions.length > 1 ? `-${s.title.replace(/\W+/g, '_')}` : ''}.cpuprofile`;
    writeFileSync(file, JSON.stringify(stopped.profile));
    const summary = summarize(stopped.profile);
    console.log(`\n## ${s.title}: ${summary.total} samples (${file})\n\nby file:\n${summary.files.join('\n')}\n\nby function (self):\n${summary.functions.join('\n')}`);
    s.close();
  }
  console.log(`\n${flow}: rate ${result.rate?.toFixed?.(0) ?? result.connectRate}`);
} finally {
  await target.stop();
}
process.exit(0);
