// The fleet figures as rows (one per metric), a console table for one run, and bench/FLEET.md for every label.

const fmt = (v) => {
  if (v === undefined || v === null) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(+v.toFixed(4));
  if (typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length === 0 ? 'none' : entries.map(([k, x]) => `${k}: ${fmt(x)}`).join(', ');
  }
  return String(v);
};

function stormRows(prefix, r) {
  if (!r) return [];
  if (r.error) return [[`${prefix}: error`, r.error]];
  const rows = [
    [`${prefix}: clients / CONNACK`, `${fmt(r.clients)} / ${fmt(r.connected)}`],
    [`${prefix}: refused (reason codes)`, fmt(r.refused)],
    [`${prefix}: failed, timed out`, `${fmt(r.failed)}; ${fmt(r.timedOut)}`],
    ...(r.retry ? [[`${prefix}: attempts retried (jittered back-off)`, fmt(r.retries)]] : []),
    [`${prefix}: failures from start, p50 / max ms`, r.failedMs ? `${fmt(r.failedMs.p50)} / ${fmt(r.failedMs.max)}` : '–'],
    [`${prefix}: CONNACK from start, p50 / p99 / max ms`, `${fmt(r.connackMs.p50)} / ${fmt(r.connackMs.p99)} / ${fmt(r.connackMs.max)}`],
    [`${prefix}: most requests per connect on one object (connects only; token objects not read yet)`, `${fmt(r.connectPhase.maxPerConnect)} (${r.connectPhase.maxObject || '–'})`],
    [`${prefix}: same, connects + disconnects`, `${fmt(r.connectAndDisconnect.maxPerConnect)} (${r.connectAndDisconnect.maxObject || '–'})`],
    [`${prefix}: same object, requests per CONNACK received`, fmt(r.connected ? +(r.connectAndDisconnect.maxRequests / r.connected).toFixed(4) : null)],
  ];
  for (const [binding, b] of Object.entries(r.connectAndDisconnect.byBinding)) {
    rows.push([`${prefix}: ${binding} worst object per connect (of ${b.objects} read)`, fmt(b.maxPerConnect)]);
  }
  rows.push([`${prefix}: workerd RSS before / all connected MiB`, `${fmt(r.rssMiB.before)} / ${fmt(r.rssMiB.connected)}`]);
  return rows;
}

function subscriptionRows(r) {
  const stopped = r.registerError ? [['registration stopped by', r.registerError]] : [];
  return [
    ...stopped,
    ['subscriptions registered / asked', `${fmt(r.registered)} / ${fmt(r.count)}`],
    ['RPC calls (filters per call), filters resent after "moved", calls retried', `${fmt(r.calls)} (${fmt(r.batch)}), ${fmt(r.resent ?? 0)}, ${fmt(r.retried ?? 0)}`],
    ['time to register s (subscriptions/s)', `${fmt(r.registerS)} (${fmt(r.perSecond)})`],
    ['shards at the end (router)', `${fmt(r.shards)} (${r.router})`],
    ['subscriptions held by all shards', fmt(r.heldByShards)],
    ['largest shard: subscriptions', `${fmt(r.largestShard?.subscriptions)} (${r.largestShard?.name ?? '–'})`],
    ['largest shard: first call after restart ms (second call)', `${fmt(r.wake?.firstMs)} (${fmt(r.wake?.secondMs)})`],
    ['workerd RSS before / after registering / after restart+wake MiB', `${fmt(r.rssMiB?.before)} / ${fmt(r.rssMiB?.after)} / ${fmt(r.rssMiB?.afterWake)}`],
  ];
}

function fanoutRows(r) {
  const rows = [
    ['persistent sessions subscribed / asked', `${fmt(r.subscribed)} / ${fmt(r.sessions)}`],
    ['time to create the sessions s', fmt(r.setupS)],
    ['messages to publish, published, PUBACKed', `${fmt(r.messages)}, ${fmt(r.published)}, ${fmt(r.acked)}`],
    ['publish errors', fmt(r.publishErrors)],
    ['delivered / expected (queued in every session, by describe())', `${fmt(r.delivered)} / ${fmt(r.expected)}`],
    ['sessions missing a message (of which unreadable)', `${fmt(r.sessionsShort)} (${fmt(r.sessionsUnreadable)})`],
    ['reading the sessions failed', r.verifyError ?? 'no'],
    ['PUBLISH to PUBACK per message ms (mean, max)', `${fmt(r.publishMs?.mean)}, ${fmt(r.publishMs?.max)}`],
    ['calls counted as', r.callsSource],
  ];
  for (const [binding, b] of Object.entries(r.perMessage ?? {})) {
    rows.push([`${binding}: objects, worst object's calls per message`, `${fmt(b.objects)}, ${fmt(b.maxPerMessage)}`]);
  }
  if (r.inferredSenderCalls !== undefined) rows.push(['calls received by sessions + relays per message (what the shards and relays made)', fmt(r.inferredSenderCalls)]);
  rows.push(['workerd RSS before / after MiB', `${fmt(r.rssMiB?.before)} / ${fmt(r.rssMiB?.after)}`]);
  return rows;
}

function hotRows(r) {
  const rows = [];
  for (const run of r.runs ?? []) {
    const p = `QoS ${run.qos}`;
    rows.push(
      [`${p}: publishers × subscribers, seconds`, `${fmt(run.publishers)} × ${fmt(run.subscribers)}, ${fmt(run.seconds)}`],
      [`${p}: offered rate steps msg/s`, (run.steps ?? []).map((s) => s.offered).join(' → ')],
      [`${p}: sent / acked / received per subscriber (min)`, `${fmt(run.sent)} / ${fmt(run.acked)} / ${fmt(run.receivedMin)}`],
      [`${p}: lost (sent − received, worst subscriber)`, `${fmt(run.lost)} (${fmt(run.lossPct)} %)`],
      [`${p}: order violations per publisher (total, publishers)`, `${fmt(run.orderViolations)}, ${fmt(run.publishersOutOfOrder)}`],
      [`${p}: received msg/s per subscriber: best step / whole run`, `${fmt(run.peakThroughput)} / ${fmt(run.throughput)}`],
      [`${p}: highest offered rate sustained (≥ 95 % received in its step)`, fmt(run.sustained)],
      [`${p}: shedding counters`, fmt(run.shedding)],
      [`${p}: workerd RSS start / max / end MiB (slope MiB/min)`, `${fmt(run.rss?.start)} / ${fmt(run.rss?.max)} / ${fmt(run.rss?.end)} (${fmt(run.rss?.slopePerMin)})`],
    );
  }
  return rows;
}

/** [metric, value] rows of one scenario's entry. */
export function rowsOf(name, entry) {
  if (!entry) return [];
  if (entry.error) return [['error', entry.error]];
  const r = entry.result;
  switch (name) {
    case 'storm':
      return [...stormRows('shared token', r.shared), ...stormRows('distinct tokens', r.distinct)];
    case 'subscriptions-1m':
      return subscriptionRows(r);
    case 'fanout-20k':
      return fanoutRows(r);
    case 'hot-topic':
      return hotRows(r);
    default:
      return [];
  }
}

export function renderTable(name, entry) {
  const rows = rowsOf(name, entry);
  const width = Math.max(10, ...rows.map(([k]) => k.length));
  return [`\n== ${name} ==`, ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`)].join('\n');
}

const SCENARIO_TEXT = {
  storm:
    'Clients of one tenant connect at once (mqtt.js 5.0, clean start, no reconnect, connect timeout 180 s), with one ' +
    'shared token, then with one token each; all disconnect after. "Requests per connect" is an object\'s ' +
    'rpc + fetch + alarm + webSocketMessage/20 + webSocketClose over the whole storm divided by the number of ' +
    'clients, for every TenantDO, TokenDO, PresenceDO, TopicShardDO and FanoutDO the tenant can reach (sessions excluded). ' +
    'Target: ≤ 0.01 on any single object.',
  'subscriptions-1m':
    "Subscriptions registered at the RPC level (no sockets), 250 filters per call, 16 calls in flight, through " +
    "Miniflare's SHARD namespace; topics devices/{i}/cmd placed as the tree's own router does: shardOf(topic, 4) " +
    'and subscribe() at 725853d, routeSubscribe() to ShardLayout.ownerOf() with online splits after. ' +
    'Wake: Miniflare restarted on the same persist directory, first call (statistics()) to the largest shard timed.',
  'fanout-20k':
    'Persistent 5.0 sessions (session expiry 1 day) created by real clients in batches of 200 (connect, subscribe ' +
    'fleet/cmd QoS 1, disconnect), then messages published QoS 1 by one client. Delivery is checked in every ' +
    "session through its describe() RPC (queued count).",
  'hot-topic':
    'Publishers (real mqtt.js clients) to one topic, the offered rate doubling in steps up to a cap, QoS 0 then QoS 1; ' +
    'payloads carry (publisher, sequence) so each subscriber counts loss and per-publisher order. ' +
    'workerd RSS sampled every second.',
};

/** bench/FLEET.md: every scenario, one column per label (e.g. before-725853d, after). */
export function renderMarkdown(results) {
  const rank = (l) => `${l.startsWith('before') ? 0 : 1}${l}`;
  const labels = Object.keys(results).sort((a, b) => rank(a).localeCompare(rank(b)));
  const out = [
    '# Fleet measurements (issue 11)',
    '',
    'Written by `npm run bench:fleet` (bench/fleet.mjs); every figure is in bench/fleet-results.json. Scaled-down',
    'fleet scenarios run against the real Worker and Durable Objects in workerd (Miniflare) on loopback; object',
    'figures come from each object\'s own `invocationCounts()`.',
    '',
    '| column | commit | mode | scale |',
    '| --- | --- | --- | --- |',
    ...labels.map((l) => {
      const c = results[l].config ?? {};
      const ran = results[l].scenarios ?? {};
      const scale = [
        ran.storm && `storm ${fmt(c.stormClients)}`,
        ran['subscriptions-1m'] && `subscriptions ${fmt(c.subscriptions)}`,
        ran['fanout-20k'] && `fan-out ${fmt(c.fanoutSessions)} sessions × ${fmt(c.fanoutMessages)} messages`,
        ran['hot-topic'] && `hot-topic ${fmt(c.hotPublishers)} publishers, ${fmt(c.hotSeconds)} s per QoS`,
      ].filter(Boolean);
      return `| ${l} | ${results[l].commit} | ${results[l].mode} | ${scale.join('; ')} |`;
    }),
    '',
  ];
  for (const name of ['storm', 'subscriptions-1m', 'fanout-20k', 'hot-topic']) {
    const present = labels.filter((l) => results[l].scenarios?.[name]);
    if (present.length === 0) continue;
    out.push(`## ${name}`, '', SCENARIO_TEXT[name], '');
    const keys = [];
    const byLabel = {};
    for (const l of present) {
      byLabel[l] = new Map(rowsOf(name, results[l].scenarios[name]));
      for (const k of byLabel[l].keys()) if (!keys.includes(k)) keys.push(k);
    }
    out.push(`| metric | ${present.join(' | ')} |`, `| --- | ${present.map(() => '---').join(' | ')} |`);
    for (const k of keys) out.push(`| ${k} | ${present.map((l) => (byLabel[l].get(k) ?? '–').replace(/\|/g, '\\|')).join(' | ')} |`);
    out.push('', present.map((l) => `${l}: started ${results[l].scenarios[name].startedAt}, load average at start ${results[l].scenarios[name].loadAtStart?.join(' / ')}, at end ${results[l].scenarios[name].loadAtEnd?.join(' / ') ?? '–'}.`).join('  \n'), '');
  }
  const notes = Object.entries(results).flatMap(([label, c]) => (c.notes ? [`- **${label}**: ${c.notes}`] : []));
  out.push('## Notes', '', ...(notes.length ? notes : ['–']), '');
  return out.join('\n');
}
