// The idle scenario's clients, in their own process: with keepalive 1 s a PINGREQ later than 1.5 s ends the
// connection, so these clients must not share an event loop with the counter reads of the main process.
// Driven over IPC by scenarios.mjs: { connect } -> { connected }, { start } -> { started },
// { stop } -> { stopped }, then it closes every client and exits. Bounded: it exits on its own after `maxMs`.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { closeMany, connectMany } from './client.mjs';

const per = []; // { name, conn, disconnects, base }
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let deadline;

function totals(p) {
  return {
    pingsSent: p.conn.clients.reduce((s, c) => s + c.pingsSent, 0),
    pingresps: p.conn.clients.reduce((s, c) => s + c.pingresps, 0),
    disconnects: p.disconnects,
  };
}

/** How the broker ended the connections that closed in the window: { 'code reason': count }. */
function closeReasons(p) {
  const out = {};
  for (const c of p.conn.clients) {
    if (!c?.closed) continue;
    const key = `${c.closeCode} ${c.closeReason}`.trim();
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function finish(code) {
  clearTimeout(deadline);
  for (const p of per) await closeMany(p.conn.clients);
  process.exit(code);
}

process.on('message', async (m) => {
  if (m.connect) {
    const { targets, clients, keepAlive, maxMs } = m.connect;
    deadline = setTimeout(() => finish(3), maxMs);
    for (const t of targets) {
      const p = { name: t.name, disconnects: 0 };
      p.conn = await connectMany(
        t.url,
        t.ids,
        { keepAlive, ping: true, onClose: () => p.disconnects++ },
        { concurrency: 50 },
      );
      per.push(p);
    }
    process.send({
      connected: per.map((p) => ({ name: p.name, clients: p.conn.clients.length, failed: p.conn.failures.length })),
    });
  } else if (m.start) {
    for (const p of per) p.base = totals(p);
    loopDelay.enable();
    process.send({ started: true });
  } else if (m.stop) {
    loopDelay.disable();
    process.send({
      stopped: per.map((p) => {
        const now = totals(p);
        return {
          name: p.name,
          clients: p.conn.clients.length - p.conn.failures.length - p.base.disconnects,
          failed: p.conn.failures.length,
          disconnectsBeforeWindow: p.base.disconnects,
          pingsSent: now.pingsSent - p.base.pingsSent,
          pingresps: now.pingresps - p.base.pingresps,
          disconnects: now.disconnects - p.base.disconnects,
          clientLoopMaxDelayMs: loopDelay.max / 1e6,
          closeReasons: closeReasons(p),
        };
      }),
    });
    await finish(0);
  }
});
process.on('disconnect', () => finish(0));
