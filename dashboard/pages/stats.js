// Statistics: the tenant's counters, polled every 2 s while the page is shown, and two live charts:
// connections, and messages per second in/out (differences of successive polls over the time between them).
import { LineChart } from '../chart.js';
import { formatDuration, h, replace } from '../dom.js';
import { poller } from '../ui.js';

const POLL_MS = 2000;
const FIELDS = [
  ['clientsConnected', 'Clients connected'],
  ['messagesReceived', 'Messages received'],
  ['messagesSent', 'Messages sent'],
  ['subscriptions', 'Subscriptions'],
  ['retained', 'Retained messages'],
  ['uptimeSeconds', 'Uptime'],
  ['version', 'Version'],
];

/** Messages per second between two polls; undefined on the first poll or after a counter reset. */
export function ratePerSecond(previous, current, field) {
  if (!previous) return undefined;
  const seconds = (current.at - previous.at) / 1000;
  const delta = current.stats[field] - previous.stats[field];
  if (seconds <= 0 || delta < 0) return undefined;
  return delta / seconds;
}

export function createStatsPage(ctx) {
  const values = Object.fromEntries(FIELDS.map(([key]) => [key, h('dd', { 'data-testid': `stat-${key}` }, '–')]));
  const numbers = h('dl', { class: 'stats', 'aria-label': 'Statistics' }, FIELDS.map(([key, label]) => h('div', { class: 'stat' }, h('dt', null, label), values[key])));
  const connectionsCanvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': 'Connections chart: no data yet', 'data-testid': 'chart-connections' });
  const rateCanvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': 'Messages per second chart: no data yet', 'data-testid': 'chart-rate' });
  const status = h('p', { class: 'muted', 'data-testid': 'stats-status' }, 'Updated every 2 s.');
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'stats-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'stats-title' }, 'Statistics')),
    numbers,
    status,
    h(
      'div',
      { class: 'charts' },
      h('figure', { class: 'card' }, h('figcaption', null, 'Connections'), connectionsCanvas),
      h('figure', { class: 'card' }, h('figcaption', null, 'Messages per second'), rateCanvas),
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

  const polling = poller(poll, POLL_MS);
  return {
    el,
    show() {
      // A gap in the rate: time spent on other pages is not averaged into one point.
      previous = undefined;
      polling.start();
      connections.draw();
      rates.draw();
    },
    hide: () => polling.stop(),
    dispose() {
      polling.stop();
      connections.dispose();
      rates.dispose();
    },
  };
}
