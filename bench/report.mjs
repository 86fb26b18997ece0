// Medians over runs, figures derived from the Durable Object counters (requests, rows, cost), and the table.

/** shared/DESIGN.md §4, Durable Objects on the paid plan; duration (GB-s) is not estimated. */
export const PRICES = {
  requestPerMillion: 0.15, // HTTP, RPC call, alarm, WebSocket connect
  incomingWebSocketMessageShare: 1 / 20, // an incoming WebSocket message bills as 1/20 of a request
  rowWrittenPerMillion: 1.0,
  rowReadPerMillion: 0.001,
};

const MONTH_S = 30 * 24 * 3600;

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Billed requests in a counter delta: fetch, RPC and alarm count 1, each incoming WebSocket message 1/20. */
export function billedRequests(c) {
  return c.fetch + c.rpc + c.alarm + c.webSocketMessage * PRICES.incomingWebSocketMessageShare;
}

function dollars(c) {
  return (
    (billedRequests(c) * PRICES.requestPerMillion +
      c.rowsWritten * PRICES.rowWrittenPerMillion +
      c.rowsRead * PRICES.rowReadPerMillion) /
    1e6
  );
}

/** Per-run figures from the counters, per delivered message (per connection for the connect scenario). */
function counterFigures(run) {
  const c = run.counters?.counts;
  if (!c || !(run.delivered > 0)) return {};
  const d = run.delivered;
  const out = {
    doRequestsPerMsg: billedRequests(c) / d,
    doRpcPerMsg: c.rpc / d,
    doWsMessagesInPerMsg: c.webSocketMessage / d,
    rowsWrittenPerMsg: c.rowsWritten / d,
    rowsReadPerMsg: c.rowsRead / d,
    costPerMillionMsgs: (dollars(c) / d) * 1e6,
  };
  for (const [binding, b] of Object.entries(run.counters.byBinding ?? {})) {
    const k = binding.toLowerCase();
    out[`${k}RequestsPerMsg`] = billedRequests(b) / d;
    out[`${k}RowsWrittenPerMsg`] = b.rowsWritten / d;
    out[`${k}RowsReadPerMsg`] = b.rowsRead / d;
  }
  if (Array.isArray(run.counters.shards)) out.shardsRead = run.counters.shards.length;
  const relay = run.counters.relay;
  if (relay && typeof relay.framesRelayed === 'number') out.workerFramesPerMsg = relay.framesRelayed / d;
  return out;
}

function idleFigures(run) {
  const c = run.counters?.counts;
  if (!c || !(run.clients > 0) || !(run.windowS > 0)) return {};
  return {
    doRequestsPerConnPerHour: (billedRequests(c) / run.clients / run.windowS) * 3600,
    costPerIdleConnMonth: (dollars(c) / run.clients / run.windowS) * MONTH_S,
  };
}

/** { scenario: { target: { runs, errors, ...median of every numeric figure } } } */
export function derive(results, targetNames) {
  const out = {};
  for (const [scenario, byTarget] of Object.entries(results)) {
    out[scenario] = {};
    for (const name of targetNames) {
      const runs = byTarget[name] ?? [];
      const ok = runs.filter((r) => !r.error);
      const rows = ok.map((r) => ({ ...r, ...(scenario === 'idle' ? idleFigures(r) : counterFigures(r)) }));
      const figures = { runs: ok.length, errors: runs.filter((r) => r.error).map((r) => r.error) };
      const keys = new Set(rows.flatMap((r) => Object.keys(r)));
      for (const k of keys) {
        const values = rows.map((r) => r[k]);
        if (values.some((v) => typeof v === 'number')) figures[k] = median(values);
      }
      const counts = ok.map((r) => r.counters?.counts).filter(Boolean);
      if (counts.length > 0) {
        figures.countersMedian = Object.fromEntries(Object.keys(counts[0]).map((k) => [k, median(counts.map((c) => c[k]))]));
        const missing = ok.flatMap((r) => r.counters?.missing ?? []);
        if (missing.length > 0) figures.countersMissing = [...new Set(missing)];
      }
      out[scenario][name] = figures;
    }
  }
  return out;
}

// ── formatting ──────────────────────────────────────────────────────────────────────────────────────

export function fmt(x) {
  if (typeof x !== 'number' || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return '∞';
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.01) return x.toFixed(3);
  return x.toPrecision(2);
}

function ratio(a, b) {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return `${(a / b).toFixed(2)}×`;
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`, ...rows.map(line)].join('\n');
}

/** [section, scenario key, [label, figure key][]] */
const FIGURES = [
  ['connect: 1,000 clients', 'connect', [
    ['connect rate (clients/s)', 'connectRate'],
    ['time to CONNACK p50 (ms)', 'connackP50'],
    ['time to CONNACK p99 (ms)', 'connackP99'],
    ['memory per connection, just connected (KiB)', 'memPerConnKiB'],
    ['memory per connection after 12 s idle (KiB)', 'memPerIdleConnKiB'],
    ['broker CPU per connect (ms)', 'brokerCpuPerConnectMs'],
    ['failed connects', 'failed'],
  ]],
  ['fan-in: 10 publishers → 1 wildcard subscriber, QoS 0', 'fanIn-qos0', 'flow'],
  ['fan-in: 10 publishers → 1 wildcard subscriber, QoS 1', 'fanIn-qos1', 'flow'],
  ['fan-in: 10 publishers → 1 wildcard subscriber with a persistent session, QoS 1', 'fanIn-qos1-persistent', 'flow'],
  ['fan-out: 1 publisher → 100 subscribers, QoS 0', 'fanOut-qos0', 'flow'],
  ['pairs: 50 publisher/subscriber pairs, QoS 0', 'pairs-qos0', 'flow'],
  ['latency at 200 msg/s, QoS 0', 'latency-qos0', 'latency'],
  ['latency at 200 msg/s, QoS 1', 'latency-qos1', 'latency'],
  ['latency100: 100 publishers → 100 subscribers (pairs) at 9.9 msg/s each, 990 msg/s, QoS 0', 'latency100-qos0', 'latency100'],
  ['latency100: 100 publishers → 100 subscribers (pairs) at 9.9 msg/s each, 990 msg/s, QoS 1', 'latency100-qos1', 'latency100'],
  ['idle: 200 clients, keepalive 1 s', 'idle', [
    ['PINGRESPs received', 'pingresps'],
    ['PINGREQs sent', 'pingsSent'],
    ['disconnects', 'disconnects'],
    ['Durable Object invocations (must be 0)', 'doInvocations'],
    ['PINGREQs answered by the Worker', 'pingsAnsweredByWorker'],
  ]],
];

const FLOW_FIGURES = [
  ['delivered msg/s', 'rate'],
  ['losses', 'losses'],
  ['out of order', 'outOfOrder'],
  ['latency under load p50 (ms)', 'loadLatencyP50'],
  ['broker CPU (% of a core)', 'brokerCpuPct'],
  ['broker CPU per delivered msg (µs)', 'brokerCpuUsPerMsg'],
  ['generator CPU (% of a core)', 'generatorCpuPct'],
];

const LATENCY_FIGURES = [
  ['p50 (ms)', 'p50'],
  ['p90 (ms)', 'p90'],
  ['p99 (ms)', 'p99'],
  ['max (ms)', 'max'],
  ['losses', 'losses'],
  ['out of order', 'outOfOrder'],
];

/** The latency figures, and what was sent and delivered (open loop: the publish rate is the schedule's). */
const LATENCY100_FIGURES = [
  ['delivered', 'delivered'],
  ['publish rate (msg/s)', 'publishRate'],
  ...LATENCY_FIGURES,
];

const COST_SCENARIOS = [
  ['connect (per connection)', 'connect'],
  ['fan-in QoS 0', 'fanIn-qos0'],
  ['fan-in QoS 1', 'fanIn-qos1'],
  ['fan-in QoS 1, persistent session', 'fanIn-qos1-persistent'],
  ['fan-out QoS 0 (per delivery)', 'fanOut-qos0'],
  ['pairs QoS 0', 'pairs-qos0'],
  ['latency QoS 0 (200 msg/s)', 'latency-qos0'],
  ['latency QoS 1 (200 msg/s)', 'latency-qos1'],
  ['latency100 QoS 0 (100 pairs, 990 msg/s)', 'latency100-qos0'],
  ['latency100 QoS 1 (100 pairs, 990 msg/s)', 'latency100-qos1'],
];

/** Per-class columns of the cost table: [figure prefix, class, shown even when not read]. */
const CLASSES = [
  ['session', 'SessionDO', true],
  ['shard', 'TopicShardDO', true],
  ['tenant', 'TenantDO', true],
  ['combiner', 'CombinerDO', false],
  ['wildcard', 'WildcardDO', false],
  ['fanout', 'FanoutDO', false],
];

/** The issue's QoS 1 targets: rows written and cost per delivery, and p99 of QoS 1 against QoS 0 at 990 msg/s. */
export const QOS1_TARGETS = { rowsWrittenClean: 0, rowsWrittenPersistent: 1, costPerMillion: 0.4, p99Ratio: 2 };

/** Ours' QoS 1 scenarios: [label, scenario, the subscriber's session]. */
const QOS1_COST_SCENARIOS = [
  ['fan-in QoS 1', 'fanIn-qos1', 'clean'],
  ['fan-in QoS 1', 'fanIn-qos1-persistent', 'persistent'],
  ['latency QoS 1 (200 msg/s)', 'latency-qos1', 'clean'],
  ['latency100 QoS 1 (990 msg/s)', 'latency100-qos1', 'clean'],
];

/** The QoS 1 figures against their targets, from the medians (also written to --json as `qos1`). */
export function qos1Summary(derived, targetNames) {
  const p99 = (scenario, name) => derived[scenario]?.[name]?.p99;
  const ratio = (name) => {
    const r = p99('latency100-qos1', name) / p99('latency100-qos0', name);
    return Number.isFinite(r) ? r : NaN;
  };
  const p99Ratio = { target: QOS1_TARGETS.p99Ratio, ...Object.fromEntries(targetNames.map((n) => [n, ratio(n)])) };
  p99Ratio.met = Number.isFinite(p99Ratio.ours) ? p99Ratio.ours <= QOS1_TARGETS.p99Ratio : null;
  const cost = [];
  for (const [label, scenario, session] of QOS1_COST_SCENARIOS) {
    const f = derived[scenario]?.ours;
    if (!f || f.rowsWrittenPerMsg === undefined) continue;
    const rowsTarget = session === 'persistent' ? QOS1_TARGETS.rowsWrittenPersistent : QOS1_TARGETS.rowsWrittenClean;
    // The target is the rows a delivery costs where it is stored, the subscriber's session; the shards'
    // periodic counter flushes (a row per counter every 10 s) are in the cost, not in this figure.
    const sessionRows = f.sessionRowsWrittenPerMsg ?? f.rowsWrittenPerMsg;
    cost.push({
      label,
      scenario,
      session,
      deliveries: f.delivered,
      rowsWrittenPerDelivery: sessionRows,
      allRowsWrittenPerDelivery: f.rowsWrittenPerMsg,
      rowsWrittenTarget: rowsTarget,
      rowsWrittenMet: sessionRows <= rowsTarget,
      costPerMillion: f.costPerMillionMsgs,
      costTarget: QOS1_TARGETS.costPerMillion,
      costMet: f.costPerMillionMsgs <= QOS1_TARGETS.costPerMillion,
    });
  }
  return { p99Ratio, cost };
}

function formatQos1(summary, names) {
  const out = ['## QoS 1 cost of ours, against the targets (per delivery)', ''];
  const met = (ok) => (ok ? 'met' : 'not met');
  if (summary.cost.length > 0) {
    out.push(
      table(
        ['scenario', 'session', 'deliveries', 'session rows written per delivery', 'target', 'all rows', '$ per million deliveries', 'target'],
        summary.cost.map((c) => [
          c.label,
          c.session,
          fmt(c.deliveries),
          fmt(c.rowsWrittenPerDelivery),
          `${c.session === 'persistent' ? '≤ ' : ''}${c.rowsWrittenTarget}: ${met(c.rowsWrittenMet)}`,
          fmt(c.allRowsWrittenPerDelivery),
          `$${fmt(c.costPerMillion)}`,
          `≤ $${c.costTarget.toFixed(2)}: ${met(c.costMet)}`,
        ]),
      ),
    );
    out.push('');
  }
  const r = summary.p99Ratio;
  if (Number.isFinite(r.ours)) {
    const peers = names.filter((n) => n !== 'ours' && Number.isFinite(r[n])).map((n) => `; ${n} ${r[n].toFixed(2)}`);
    out.push(
      `latency100 (100 pairs, 990 msg/s): p99 QoS 1 / p99 QoS 0 = ours ${r.ours.toFixed(2)} ` +
        `(target ≤ ${r.target}: ${met(r.met)})${peers.join('')}.`,
    );
  }
  return out;
}

export function formatReport({ machine, startedAt, durationS, config, targets, derived }) {
  const names = targets.map((t) => t.name);
  const peers = names.filter((n) => n !== 'ours');
  const out = [];
  out.push(`# edge-mqtt-broker bench — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${config.mode} mode, ${durationS.toFixed(0)} s`);
  out.push('');
  out.push(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; ` +
      `load average ${machine.loadAverageAtStart?.join(' ')} at start, ${machine.loadAverageAtEnd?.join(' ')} at end`,
  );
  for (const t of targets) out.push(`${t.name}: ${t.describe}`);
  out.push(
    `load: raw ws (no compression), one frame per packet, ${config.payloadBytes}-byte payloads; closed loop ` +
      `(a publisher waits while its window of undelivered/unacknowledged messages is full); ` +
      `median of ${config.runs} interleaved run(s) of ${config.flowMs / 1000} s per flow; generator, brokers and workerd share the machine's cores.`,
  );
  out.push('');

  const header = ['figure', ...names.flatMap((n) => (n === 'ours' ? [n] : [n, `ours/${n}`]))];
  const rowFor = (scenario, label, key) => {
    const ours = derived[scenario]?.ours?.[key];
    const cells = [label];
    for (const n of names) {
      const v = derived[scenario]?.[n]?.[key];
      cells.push(fmt(v));
      if (n !== 'ours') cells.push(ratio(ours, v));
    }
    return cells;
  };
  for (const [section, scenario, spec] of FIGURES) {
    if (!derived[scenario]) continue;
    const figures = spec === 'flow' ? FLOW_FIGURES : spec === 'latency' ? LATENCY_FIGURES : spec === 'latency100' ? LATENCY100_FIGURES : spec;
    out.push(`## ${section}`);
    out.push('');
    out.push(table(header, figures.map(([label, key]) => rowFor(scenario, label, key))));
    const errors = names.flatMap((n) => (derived[scenario][n]?.errors ?? []).map((e) => `${n}: ${e}`));
    if (errors.length > 0) out.push('', `errors: ${errors.join('; ')}`);
    out.push('');
  }

  out.push('## Cost of ours, from the Durable Object counters (per delivered message)');
  out.push('');
  const costRows = [];
  for (const [label, scenario] of COST_SCENARIOS) {
    const f = derived[scenario]?.ours;
    if (!f || f.doRequestsPerMsg === undefined) continue;
    costRows.push([
      label,
      fmt(f.doRequestsPerMsg),
      fmt(f.doRpcPerMsg),
      fmt(f.doWsMessagesInPerMsg),
      fmt(f.rowsWrittenPerMsg),
      fmt(f.rowsReadPerMsg),
      fmt(f.workerFramesPerMsg),
      `$${fmt(f.costPerMillionMsgs)}`,
    ]);
  }
  out.push(
    table(
      ['scenario', 'DO requests', 'of which RPC', 'DO WS msgs in', 'rows written', 'rows read', 'Worker frames', '$ per million'],
      costRows,
    ),
  );
  out.push('');
  out.push('By Durable Object class, per delivered message: requests / rows written / rows read');
  out.push('');
  const cell = (f, k) =>
    f[`${k}RequestsPerMsg`] === undefined
      ? '–'
      : `${fmt(f[`${k}RequestsPerMsg`])} / ${fmt(f[`${k}RowsWrittenPerMsg`])} / ${fmt(f[`${k}RowsReadPerMsg`])}`;
  const costed = COST_SCENARIOS.map(([label, scenario]) => [label, derived[scenario]?.ours]).filter(([, f]) => f && f.doRequestsPerMsg !== undefined);
  // The classes only scenarios with publishers read (combiners, wildcard homes, relays) get a column when read.
  const classes = CLASSES.filter(([k, , always]) => always || costed.some(([, f]) => f[`${k}RequestsPerMsg`] !== undefined));
  const classRows = costed.map(([label, f]) => [label, ...classes.map(([k]) => cell(f, k))]);
  out.push(table(['scenario', ...classes.map(([, name]) => name)], classRows));
  out.push('');
  const shardsRead = costed.map(([, f]) => f.shardsRead).filter(Number.isFinite);
  const [fewest, most] = [Math.min(...shardsRead), Math.max(...shardsRead)];
  const shardSpan = shardsRead.length === 0 ? '' : `: ${fewest === most ? fewest : `${fewest}–${most}`} shards`;
  out.push(
    "Read per window: the sessions of the scenario's clients, every topic shard (shard 0's list, again at the end " +
      `for shards split off meanwhile${shardSpan}), the tenant; with publishers also their combiner slots on every shard, ` +
      'the wildcard homes and, past FANOUT_THRESHOLD subscribers of a topic, the relays. Not read: PresenceDO (a ' +
      "session reports to its bucket when it connects and disconnects: in the connect scenario's window, not the " +
      "others'), TokenDO (anonymous clients use no token)." +
      (classes.some(([k]) => k === 'fanout') ? '' : ' FanoutDO: no topic had more than FANOUT_THRESHOLD subscribers, so no relay ran and none was read.'),
  );
  out.push('');
  const idle = derived.idle?.ours;
  if (idle && idle.costPerIdleConnMonth !== undefined) {
    out.push(
      `idle connection-month: $${fmt(idle.costPerIdleConnMonth)} in Durable Object requests and rows ` +
        `(${fmt(idle.doInvocations)} DO invocations in ${fmt(idle.windowS)} s for ${fmt(idle.clients)} clients pinging every second; ` +
        `the Worker answered ${fmt(idle.pingsAnsweredByWorker)} PINGREQs).`,
    );
  }
  out.push(
    `Prices: shared/DESIGN.md §4 — $${PRICES.requestPerMillion} per million requests (fetch, RPC call, alarm), an incoming ` +
      `WebSocket message 1/20 of a request, rows written $${PRICES.rowWrittenPerMillion}/M, rows read $${PRICES.rowReadPerMillion}/M. ` +
      'Not included: Durable Object duration (GB-s; zero while hibernated, not measured here), the Worker (its requests and CPU: ' +
      'a connection is one Worker request, relaying and PINGREQs are Worker CPU), storage, and webSocketClose events.',
  );
  out.push('');
  out.push(...formatQos1(qos1Summary(derived, names), names));
  const missing = Object.values(derived).flatMap((s) => s.ours?.countersMissing ?? []);
  if (missing.length > 0) out.push(`counters missing from the broker: ${[...new Set(missing)].join(', ')}`);
  return out.join('\n');
}
