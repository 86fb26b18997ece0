// Sessions: the tenant's connected and offline sessions as a table, a page at a time (the API's `next`
// cursor; Previous goes back through the cursors seen), searched by client id on the server, refreshed every
// 2 s while the page is shown. Kick disconnects a client; Delete ends an offline session.
import { formatAgo, formatTime, h, replace } from '../dom.js';
import { confirmAction, empty, notify, poller } from '../ui.js';

const REFRESH_MS = 2000;
const PAGE_SIZE = 25;
/** 0xFFFFFFFF: the session never expires (3.1.1 clean session 0 too). */
const NEVER_EXPIRES = 0xffffffff;
const COLUMNS = ['Client id', 'Token', 'State', 'Protocol', 'Keepalive', 'Session expiry', 'Queued', 'Subscriptions', 'Actions'];

export function createSessionsPage(ctx) {
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'data sessions', 'aria-label': 'Sessions', 'aria-busy': 'true' },
    h('thead', null, h('tr', null, COLUMNS.map((title) => h('th', { scope: 'col' }, title)))),
    body,
  );
  const summary = h('p', { class: 'muted', 'data-testid': 'sessions-summary' }, 'Loading…');
  const search = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'part of a client id' });
  const previous = h('button', { type: 'button', disabled: true, onclick: () => turn(-1) }, 'Previous');
  const next = h('button', { type: 'button', disabled: true, onclick: () => turn(1) }, 'Next');
  const pageLabel = h('span', { class: 'muted', 'data-testid': 'sessions-page' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Sessions pages', hidden: true }, previous, pageLabel, next);
  const searchForm = h(
    'form',
    { class: 'toolbar', role: 'search', 'aria-label': 'Search sessions', novalidate: true },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Search client ids'), search, h('small', { class: 'hint' }, 'Matches any part of the client id (case-sensitive), across all sessions.')),
  );
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'sessions-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'sessions-title' }, 'Sessions'), h('button', { type: 'button', onclick: () => polling.start() }, 'Refresh')),
    searchForm,
    summary,
    h('div', { class: 'table-wrap' }, table),
    pager,
  );
  const polling = poller(refresh, REFRESH_MS);
  let lastRendered = '';
  /** token id → name, to say which token a session uses (loaded on each visit, before the first render). */
  let tokenNames = Promise.resolve(new Map());
  /** The cursors of the pages seen: cursors[i] starts page i ('' = the first); the next page's is `nextCursor`. */
  let cursors = [''];
  let index = 0;
  let nextCursor = null;
  let query = '';

  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => applySearch(search.value.trim()), 250);
  });
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(typing);
    applySearch(search.value.trim());
  });

  function applySearch(q) {
    if (q === query) return;
    query = q;
    cursors = [''];
    index = 0;
    lastRendered = '';
    polling.start();
  }

  function turn(step) {
    if (step > 0 && nextCursor === null) return;
    if (step > 0) cursors[index + 1] = nextCursor;
    index = Math.max(0, index + step);
    cursors.length = index + 1;
    lastRendered = '';
    polling.start();
  }

  /** One poll of the page shown; false stops polling. */
  async function refresh() {
    let page;
    try {
      page = await ctx.api.listSessions({ q: query, after: cursors[index], limit: PAGE_SIZE });
    } catch (error) {
      if (error.status === 404) {
        replace(summary, 'The sessions API is not available on this broker.');
        replace(body, emptyRow('No session data.'));
        table.setAttribute('aria-busy', 'false');
        return false; // nothing to poll
      }
      if (error.status === 401) {
        await ctx.run(() => Promise.reject(error), 'Sessions').catch(() => {});
        return false;
      }
      replace(summary, `Could not load sessions: ${error.message}`);
    }
    if (page) {
      // A page emptied meanwhile (its sessions ended): step back to one that has some.
      if (page.sessions.length === 0 && index > 0) {
        turn(-1);
        return false;
      }
      render(page, await tokenNames);
    }
    return true;
  }

  function render(page, names) {
    const key = JSON.stringify(page);
    if (key === lastRendered) return;
    lastRendered = key;
    nextCursor = page.next;
    const { sessions } = page;
    const online = sessions.filter((s) => s.connected).length;
    const what = query ? `Matching “${query}”: ` : '';
    replace(summary, `${what}${online} connected, ${sessions.length - online} offline on page ${index + 1} (refreshed every 2 s)`);
    replace(pageLabel, `Page ${index + 1}`);
    previous.disabled = index === 0;
    next.disabled = page.next === null;
    pager.hidden = index === 0 && page.next === null;
    replace(body, sessions.length ? sessions.map((session) => sessionRow(session, names)) : emptyRow(query ? `No client id contains “${query}”.` : 'No sessions.'));
    table.setAttribute('aria-busy', 'false');
  }

  function emptyRow(text) {
    return h('tr', null, h('td', { colspan: COLUMNS.length }, empty(text)));
  }

  function sessionRow(session, names) {
    const tokenName = session.tokenId ? names.get(session.tokenId) : undefined;
    const cell = (label, ...content) => h('td', { 'data-label': label }, h('div', null, ...content));
    const kick = h('button', { type: 'button', class: 'danger', disabled: !session.connected, 'aria-label': `Kick ${session.clientId}` }, 'Kick');
    kick.addEventListener('click', async () => {
      kick.disabled = true;
      const done = await ctx.run(() => ctx.api.kick(session.clientId).then(() => true), 'Kick').catch(() => false);
      if (done) notify(`Disconnected ${session.clientId}.`);
      lastRendered = '';
      polling.start();
    });
    const remove = h(
      'button',
      { type: 'button', class: 'danger', disabled: session.connected, 'aria-label': `Delete session ${session.clientId}`, title: session.connected ? 'Kick the client first' : undefined },
      'Delete',
    );
    remove.addEventListener('click', async () => {
      const queued = session.queued ? `, ${session.queued} queued message${session.queued === 1 ? '' : 's'}` : '';
      const sure = await confirmAction(
        `Delete the offline session “${session.clientId}”? Its subscriptions${queued} and any pending will are dropped; the client's next connection starts a new session.`,
        'Delete session',
      );
      if (!sure) return;
      const done = await ctx.run(() => ctx.api.deleteSession(session.clientId).then(() => true), 'Delete session').catch(() => false);
      if (done) notify(`Deleted the session ${session.clientId}.`);
      lastRendered = '';
      polling.start();
    });
    const subscriptions = session.subscriptions ?? [];
    return h(
      'tr',
      { 'data-testid': 'session-row', 'aria-label': `Session ${session.clientId}` },
      h('th', { scope: 'row', 'data-label': 'Client id' }, h('span', { class: 'mono' }, session.clientId)),
      cell('Token', tokenName ?? session.tokenId ?? '—', tokenName ? h('span', { class: 'muted' }, ' (', session.tokenId, ')') : null),
      cell(
        'State',
        h('span', { class: `badge ${session.connected ? 'ok' : ''}`, 'data-testid': 'session-state' }, session.connected ? 'connected' : 'offline'),
        h('small', { class: 'muted block', title: formatTime(session.connectedAt) }, session.connected ? 'since ' : 'last connected ', formatAgo(session.connectedAt)),
      ),
      cell('Protocol', h('span', { 'data-testid': 'protocol' }, protocolText(session.protocolVersion))),
      cell('Keepalive', h('span', { 'data-testid': 'keepalive' }, keepAliveText(session.keepAlive))),
      cell('Session expiry', h('span', { 'data-testid': 'expiry' }, expiryText(session))),
      cell('Queued', h('span', { 'data-testid': 'queued' }, String(session.queued ?? 0)), session.inflight ? h('small', { class: 'muted block' }, `${session.inflight} in flight`) : null,
        countersText(session.counters) ? h('small', { class: 'muted block', 'data-testid': 'counters' }, countersText(session.counters)) : null),
      cell(
        'Subscriptions',
        subscriptions.length
          ? h('ul', { class: 'subs', 'aria-label': `Subscriptions of ${session.clientId}` }, subscriptions.map((s) => h('li', null, h('code', null, s.filter), h('span', { class: 'muted' }, ` QoS ${s.qos}`))))
          : h('span', { class: 'muted' }, 'none'),
      ),
      cell('Actions', h('div', { class: 'row-actions' }, kick, remove)),
    );
  }

  return {
    el,
    show() {
      lastRendered = '';
      tokenNames = ctx.api.listTokens().then(
        (tokens) => new Map(tokens.map((t) => [t.id, t.name])),
        () => new Map(),
      );
      polling.start();
    },
    hide: () => polling.stop(),
    dispose: () => polling.stop(),
  };
}

function protocolText(version) {
  if (version === 5) return '5.0';
  if (version === 4) return '3.1.1';
  return '—';
}

function keepAliveText(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  return seconds === 0 ? 'off' : `${seconds} s`;
}

/** The Session Expiry Interval, and for an offline session when it ends. */
function expiryText(session) {
  const interval = session.sessionExpiryInterval;
  if (interval === null || interval === undefined) return '—';
  if (interval === 0) return 'ends with the connection';
  if (interval === NEVER_EXPIRES) return 'never expires';
  const length = intervalText(interval);
  if (session.connected || !session.expiresAt) return length;
  return `${length}, ends ${formatTime(session.expiresAt)}`;
}

/** Seconds as the largest two units that matter: "10 min", "1 h 30 min", "7 d". */
function intervalText(seconds) {
  const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
  const parts = [];
  let left = seconds;
  for (const [name, size] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${name}`);
    if (parts.length === 2) break;
  }
  return parts.join(' ') || '0 s';
}

/** A session's counters (limits hit, messages dropped) as one line of text; '' when it counted nothing. */
function countersText(counters) {
  return Object.entries(counters ?? {})
    .filter(([, value]) => value > 0)
    .map(([name, value]) => `${name.replaceAll('_', ' ')} ${value}`)
    .join(', ');
}
