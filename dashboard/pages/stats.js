// Statistics: the tenant's counters and limit hits, polled every 2 s while the page is shown, with two live
// charts (connections, messages per second from successive polls); and the history: per-minute charts of the
// last hour, 6 hours or day with a time axis, and each token's usage over that window, refreshed every 10 s.
import { formatClock, LineChart } from '../chart.js';
import { formatBytes, formatDuration, h, replace } from '../dom.js';
import { limitLabel } from '../limit-names.js';
import { poller } from '../ui.js';

const POLL_MS = 2000;
const HISTORY_MS = 10_000;
const FIELDS = [
  ['clientsConnected', 'Clients connected'],
  ['messagesReceived', 'Messages received'],
  ['messagesSent', 'Messages sent'],
  ['subscriptions', 'Subscriptions'],
  ['retained', 'Retained messages'],
  ['uptimeSeconds', 'Uptime'],
  ['version', 'Version'],
];
const RANGES = [
  [60, 'Last hour', 'last hour'],
  [360, 'Last 6 hours', 'last 6 hours'],
  [1440, 'Last 24 hours', 'last 24 hours'],
];
/** The history charts: each series is [key of a minute, legend label, colour]. */
const HISTORY_CHARTS = [
  { id: 'connections', title: 'Connects and disconnects per minute', series: [['connects', 'connects', '#0f766e'], ['disconnects', 'disconnects', '#b45309']] },
  { id: 'messages', title: 'Messages per minute', series: [['messages_in', 'in', '#2563eb'], ['messages_out', 'out', '#c2410c']] },
  { id: 'bytes', title: 'Bytes per minute', series: [['bytes_in', 'in', '#2563eb'], ['bytes_out', 'out', '#c2410c']], format: formatBytes },
  { id: 'limits', title: 'Limit hits per minute', series: [['limit_hits', 'limit hits', '#b91c1c']] },
  {
    id: 'cost',
    title: 'Cost drivers: Durable Object requests and rows per minute',
    note: 'What Cloudflare bills for Durable Objects: requests, and rows written and read in their storage.',
    series: [['do_requests', 'requests', '#7c3aed'], ['do_rows_written', 'rows written', '#0891b2'], ['do_rows_read', 'rows read', '#a3a3a3']],
  },
];
/** The per-token usage table: [key, column heading, format]. */
const USAGE_COLUMNS = [
  ['messages_in', 'Messages in', formatCount],
  ['bytes_in', 'Bytes in', formatBytes],
  ['connects', 'Connects', formatCount],
  ['limit_hits', 'Limit hits', formatCount],
];

/** Messages per second between two polls; undefined on the first poll or after a counter reset. */
export function ratePerSecond(previous, current, field) {
  if (!previous) return undefined;
  const seconds = (current.at - previous.at) / 1000;
  const delta = current.stats[field] - previous.stats[field];
  if (seconds <= 0 || delta < 0) return undefined;
  return delta / seconds;
}

/** 12, or 12.5: a count that may be fractional (a request cost as a share of one). */
function formatCount(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** What a history chart shows, in words (its accessible name): totals and the busiest minute. */
export function historySummary(chart, range, minutes) {
  const format = chart.format ?? formatCount;
  const totals = chart.series.map(([key, label]) => `${label} ${format(minutes.reduce((sum, point) => sum + (point[key] ?? 0), 0))}`);
  let busiest;
  let busiestSum = 0;
  for (const point of minutes) {
    const sum = chart.series.reduce((total, [key]) => total + (point[key] ?? 0), 0);
    if (sum > busiestSum) [busiest, busiestSum] = [point, sum];
  }
  const peak = busiest ? `; busiest minute ${formatClock(busiest.at)} (${chart.series.map(([key, label]) => `${label} ${format(busiest[key] ?? 0)}`).join(', ')})` : '; nothing counted';
  return `${chart.title}, ${range}: ${totals.join(', ')} in total${peak}`;
}

export function createStatsPage(ctx) {
  const values = Object.fromEntries(FIELDS.map(([key]) => [key, h('dd', { 'data-testid': `stat-${key}` }, '–')]));
  const numbers = h('dl', { class: 'stats', 'aria-label': 'Statistics' }, FIELDS.map(([key, label]) => h('div', { class: 'stat' }, h('dt', null, label), values[key])));
  const limitHits = h('ul', { class: 'limit-hits', 'aria-labelledby': 'stats-limits-title', 'data-testid': 'limit-hits' }, h('li', { class: 'muted' }, '–'));
  const connectionsCanvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': 'Connections chart: no data yet', 'data-testid': 'chart-connections' });
  const rateCanvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': 'Messages per second chart: no data yet', 'data-testid': 'chart-rate' });
  const status = h('p', { class: 'muted', 'data-testid': 'stats-status' }, 'Updated every 2 s.');

  const range = h('select', { id: 'stats-range' }, RANGES.map(([minutes, label]) => h('option', { value: String(minutes) }, label)));
  const historyStatus = h('p', { class: 'muted', 'data-testid': 'history-status' }, 'Loading…');
  const historyCharts = HISTORY_CHARTS.map((chart) => {
    const canvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': `${chart.title}: loading`, 'data-testid': `history-${chart.id}` });
    const figure = h('figure', { class: 'card' }, h('figcaption', null, chart.title), chart.note ? h('p', { class: 'hint' }, chart.note) : null, canvas);
    return { ...chart, canvas, figure, line: new LineChart(canvas, { series: chart.series.map(([, label, color]) => ({ label, color })), format: chart.format }) };
  });
  const usageBody = h('tbody');
  const usage = h(
    'table',
    { class: 'usage', 'data-testid': 'token-usage' },
    h('caption', null, 'Usage per token'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Token'), USAGE_COLUMNS.map(([, heading]) => h('th', { scope: 'col' }, heading)))),
    usageBody,
  );

  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'stats-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'stats-title' }, 'Statistics')),
    numbers,
    h('div', { class: 'card' }, h('h2', { id: 'stats-limits-title' }, 'Limit hits'), limitHits),
    status,
    h(
      'div',
      { class: 'charts' },
      h('figure', { class: 'card' }, h('figcaption', null, 'Connections'), connectionsCanvas),
      h('figure', { class: 'card' }, h('figcaption', null, 'Messages per second'), rateCanvas),
    ),
    h(
      'section',
      { class: 'history', 'aria-labelledby': 'stats-history-title' },
      h('div', { class: 'page-head' }, h('h2', { id: 'stats-history-title' }, 'History'), h('label', { class: 'check', for: 'stats-range' }, 'Range', range)),
      historyStatus,
      h('div', { class: 'charts' }, historyCharts.map((chart) => chart.figure)),
      h('div', { class: 'card' }, usage),
    ),
  );
  const connections = new LineChart(connectionsCanvas, { series: [{ label: 'connected', color: '#0f766e' }], points: 60 });
  const rates = new LineChart(rateCanvas, {
    series: [
      { label: 'in', color: '#2563eb' },
      { label: 'out', color: '#c2410c' },
    ],
    points: 60,
    unit: '/s',
  });
  /** The previous poll: { at, stats }. */
  let previous;
  /** token id → name (loaded on each visit). */
  let tokenNames = Promise.resolve(new Map());
  /** Counts history requests, so an answer for a range no longer chosen is dropped. */
  let historyRequest = 0;

  async function poll() {
    let stats;
    try {
      stats = await ctx.api.stats();
    } catch (error) {
      if (error.status === 401) {
        await ctx.run(() => Promise.reject(error), 'Statistics').catch(() => {});
        return false;
      }
      replace(status, `Could not load statistics: ${error.message}`);
      connections.push([null]);
      rates.push([null, null]);
      return true;
    }
    const current = { at: performance.now(), stats };
    for (const [key] of FIELDS) {
      const value = stats[key];
      values[key].textContent = value === undefined ? '–' : key === 'uptimeSeconds' ? formatDuration(value) : String(value);
    }
    renderLimitHits(stats.limitHits ?? {});
    const inRate = ratePerSecond(previous, current, 'messagesReceived');
    const outRate = ratePerSecond(previous, current, 'messagesSent');
    previous = current;
    connections.push([stats.clientsConnected]);
    connectionsCanvas.setAttribute('aria-label', `Connections chart: ${stats.clientsConnected} connected now`);
    if (inRate !== undefined && outRate !== undefined) {
      rates.push([inRate, outRate]);
      rateCanvas.setAttribute('aria-label', `Messages per second chart: ${inRate.toFixed(1)} in, ${outRate.toFixed(1)} out`);
    }
    replace(status, `Updated ${new Date().toLocaleTimeString()} · every 2 s`);
    return true;
  }

  /** Every limit the broker counted, by name, the most hit first. */
  function renderLimitHits(hits) {
    const entries = Object.entries(hits).sort(([a, countA], [b, countB]) => countB - countA || a.localeCompare(b));
    replace(
      limitHits,
      entries.length
        ? entries.map(([name, count]) =>
            h('li', { 'data-limit': name }, h('span', { title: name }, limitLabel(name)), h('strong', { class: 'count' }, String(count))),
          )
        : h('li', { class: 'muted' }, 'No limit hit so far.'),
    );
  }

  async function pollHistory() {
    const mine = ++historyRequest;
    const minutes = Number(range.value);
    const rangeText = RANGES.find(([value]) => value === minutes)?.[2] ?? `last ${minutes} minutes`;
    let history;
    try {
      history = await ctx.api.statsHistory(minutes);
    } catch (error) {
      if (mine !== historyRequest) return true;
      if (error.status === 401) {
        await ctx.run(() => Promise.reject(error), 'Statistics').catch(() => {});
        return false;
      }
      if (error.status === 404) {
        replace(historyStatus, 'The history is not available on this broker.');
        return false;
      }
      replace(historyStatus, `Could not load the history: ${error.message}`);
      return true;
    }
    const names = await tokenNames;
    if (mine !== historyRequest) return true;
    const points = history.minutes ?? [];
    const times = points.map((point) => point.at);
    for (const chart of historyCharts) {
      chart.line.setHistory(times, chart.series.map(([key]) => points.map((point) => point[key] ?? 0)));
      chart.canvas.setAttribute('aria-label', historySummary(chart, rangeText, points));
    }
    renderUsage(history.tokens ?? [], names, rangeText);
    replace(historyStatus, `Per minute, ${rangeText} · updated ${new Date().toLocaleTimeString()} · every 10 s`);
    return true;
  }

  function renderUsage(tokens, names, rangeText) {
    usage.querySelector('caption').textContent = `Usage per token, ${rangeText}`;
    replace(
      usageBody,
      tokens.length
        ? tokens.map((entry) =>
            h(
              'tr',
              { 'data-token': entry.tokenId },
              h('th', { scope: 'row', 'data-label': 'Token' }, h('span', null, names.get(entry.tokenId) ?? entry.tokenId, names.has(entry.tokenId) ? null : h('span', { class: 'muted' }, ' (deleted token)'))),
              USAGE_COLUMNS.map(([key, heading, format]) => h('td', { 'data-label': heading }, format(entry[key] ?? 0))),
            ),
          )
        : h('tr', null, h('td', { colspan: String(USAGE_COLUMNS.length + 1), class: 'muted' }, 'No token was used in this window.')),
    );
  }

  const polling = poller(poll, POLL_MS);
  const historyPolling = poller(pollHistory, HISTORY_MS);
  range.addEventListener('change', () => {
    replace(historyStatus, 'Loading…');
    historyPolling.start();
  });
  return {
    el,
    show() {
      // A gap in the rate: time spent on other pages is not averaged into one point.
      previous = undefined;
      tokenNames = ctx.api.listTokens().then(
        (tokens) => new Map(tokens.map((t) => [t.id, t.name])),
        () => new Map(),
      );
      polling.start();
      historyPolling.start();
      connections.draw();
      rates.draw();
      for (const chart of historyCharts) chart.line.draw();
    },
    hide() {
      polling.stop();
      historyPolling.stop();
    },
    dispose() {
      polling.stop();
      historyPolling.stop();
      connections.dispose();
      rates.dispose();
      for (const chart of historyCharts) chart.line.dispose();
    },
  };
}
