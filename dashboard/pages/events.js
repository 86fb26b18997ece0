// Events: the tenant's event log (connects, disconnects with their reason, auth failures, kicks, limit hits,
// token changes), newest first, narrowed by client id, token and kind, a page at a time ("Load older"). Live
// while shown: the first page is polled every 3 s and what is new is merged in by id, until paused.
import { formatTime, h, replace } from '../dom.js';
import { limitLabel } from '../limit-names.js';
import { reasonName } from '../reason-codes.js';
import { poller } from '../ui.js';

const LIVE_MS = 3000;
const PAGE_SIZE = 50;
const KINDS = [
  ['connect', 'Connect'],
  ['disconnect', 'Disconnect'],
  ['auth_failure', 'Auth failure'],
  ['kick', 'Kick'],
  ['limit', 'Limit hit'],
  ['token', 'Token change'],
];
const KIND_LABELS = Object.fromEntries(KINDS);
const COLUMNS = ['Time', 'Kind', 'Client id', 'Token', 'Message', 'Reason'];

/** Where an event sits in the merged log: ids are "at.shard.seq", the log is ordered by them, newest first. */
function newerFirst(a, b) {
  const [atA, shardA, seqA] = a.id.split('.').map(Number);
  const [atB, shardB, seqB] = b.id.split('.').map(Number);
  return atB - atA || shardB - shardA || seqB - seqA;
}

/** 0x96: a reason code as the spec tables write it. */
function formatReasonCode(code) {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

export function createEventsPage(ctx) {
  const clientId = h('input', { type: 'text', name: 'clientId', autocomplete: 'off', spellcheck: 'false', placeholder: 'any client' });
  const token = h('select', { name: 'tokenId' }, h('option', { value: '' }, 'All tokens'));
  const kinds = KINDS.map(([kind, label]) => ({ kind, box: h('input', { type: 'checkbox', name: 'kind', value: kind }), label }));
  const pageSize = h('input', { type: 'number', name: 'limit', min: '1', max: '500', step: '1', value: String(PAGE_SIZE), inputmode: 'numeric' });
  const filters = h(
    'form',
    { class: 'card event-filters', 'aria-label': 'Event filters', novalidate: true },
    h(
      'div',
      { class: 'grid' },
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Client id'), clientId),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Token'), token),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Page size'), pageSize),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, 'Kinds (none checked: all)'),
      h('div', { class: 'kinds' }, kinds.map(({ box, label }) => h('label', { class: 'check' }, box, label))),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply filters'), h('button', { type: 'button', onclick: clearFilters }, 'Clear filters')),
  );
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'events-error' });
  // Not a live region: it changes every 3 s.
  const status = h('p', { class: 'muted', 'data-testid': 'events-status' }, 'Loading…');
  const liveButton = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause live updates');
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'events', 'aria-label': 'Event log', 'aria-busy': 'true' },
    h('thead', null, h('tr', null, COLUMNS.map((column) => h('th', { scope: 'col' }, column)))),
    body,
  );
  const older = h('button', { type: 'button', hidden: true }, 'Load older');
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'events-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'events-title' }, 'Events'), liveButton),
    filters,
    error,
    status,
    h('div', { class: 'card table-card' }, table),
    h('div', { class: 'actions' }, older),
  );

  /** The events shown, newest first, and their rows by id. */
  let events = [];
  let rows = new Map();
  /** Continues after the oldest shown; null at the end of the log. */
  let next = null;
  /** Whether the first page of the current filters has arrived. */
  let loaded = false;
  /** Bumped when the filters change: answers to an older query are dropped. */
  let generation = 0;
  let shown = false;
  let paused = false;
  let lastUpdate;
  /** token id → name, for the Token column and the select. */
  let tokenNames = new Map();

  /** The API query of the current filters; `before` continues a page. */
  function query(before) {
    const params = { limit: pageSize.value.trim() || String(PAGE_SIZE) };
    if (before) params.before = before;
    if (clientId.value.trim()) params.clientId = clientId.value.trim();
    if (token.value) params.tokenId = token.value;
    const checked = kinds.filter(({ box }) => box.checked).map(({ kind }) => kind);
    if (checked.length) params.kind = checked.join(',');
    return params;
  }

  /** The filters changed: start again from the newest event. */
  function reload() {
    generation++;
    events = [];
    rows = new Map();
    next = null;
    loaded = false;
    replace(body);
    table.setAttribute('aria-busy', 'true');
    replace(error);
    replace(status, 'Loading…');
    older.hidden = true;
    if (shown && !paused) polling.start();
    else if (shown) void fetchNewest();
  }

  function clearFilters() {
    clientId.value = '';
    token.value = '';
    for (const { box } of kinds) box.checked = false;
    pageSize.value = String(PAGE_SIZE);
    reload();
  }

  /** The first page: the whole list the first time, afterwards what is new merged in. False stops polling. */
  async function fetchNewest() {
    const mine = generation;
    let page;
    try {
      page = await ctx.api.events(query());
    } catch (failure) {
      return mine === generation ? failed(failure) : true;
    }
    if (mine !== generation) return true;
    replace(error);
    const first = !loaded;
    const fresh = page.events.filter((event) => !rows.has(event.id));
    // More new events than a page since the last poll: what is shown no longer joins up; start from this page.
    const gap = !first && events.length > 0 && fresh.length === page.events.length && page.next !== null;
    if (first || gap) {
      events = [];
      rows = new Map();
      next = page.next;
    }
    add(fresh, !first && !gap);
    loaded = true;
    lastUpdate = new Date();
    renderStatus(first || gap ? 0 : fresh.length);
    return true;
  }

  async function loadOlder() {
    if (next === null) return;
    const mine = generation;
    older.disabled = true;
    try {
      const page = await ctx.api.events(query(next));
      if (mine !== generation) return;
      next = page.next;
      add(page.events.filter((event) => !rows.has(event.id)), false);
      renderStatus(0);
    } catch (failure) {
      if (mine === generation) failed(failure);
    } finally {
      older.disabled = false;
    }
  }

  /** Reports a failed query; a refused filter (400) stops the live updates until the filters change. */
  function failed(failure) {
    if (failure.status === 401) {
      void ctx.run(() => Promise.reject(failure), 'Events').catch(() => {});
      return false;
    }
    if (failure.status === 400) {
      replace(error, `The filters were refused: ${failure.message}`);
      replace(status, 'No events shown: change the filters.');
      table.setAttribute('aria-busy', 'false');
      return false;
    }
    if (failure.status === 404 && !loaded) {
      replace(status, 'The event log is not available on this broker.');
      table.setAttribute('aria-busy', 'false');
      return false;
    }
    replace(error, `Could not load events: ${failure.message}`);
    return true;
  }

  /** Adds events (new ones marked as such) in log order, reusing the rows already built. */
  function add(added, markNew) {
    for (const event of added) rows.set(event.id, eventRow(event, markNew));
    events = events.concat(added).sort(newerFirst);
    if (events.length === 0) {
      replace(body, h('tr', null, h('td', { colspan: String(COLUMNS.length), class: 'empty' }, 'No events match these filters.')));
    } else {
      replace(body, events.map((event) => rows.get(event.id)));
    }
    table.setAttribute('aria-busy', 'false');
    older.hidden = next === null;
  }

  function renderStatus(fresh) {
    const mode = paused ? 'Paused' : `Live: checked ${lastUpdate ? lastUpdate.toLocaleTimeString() : '–'}, every 3 s`;
    const count = `${events.length} event${events.length === 1 ? '' : 's'} shown${next === null ? ' (the whole log for these filters)' : ''}`;
    replace(status, `${mode} · ${count}${fresh ? ` · ${fresh} new` : ''}`);
  }

  function eventRow(event, markNew) {
    const tokenName = event.tokenId ? tokenNames.get(event.tokenId) : undefined;
    const code = typeof event.reasonCode === 'number' ? event.reasonCode : undefined;
    const address = event.detail?.remoteAddress;
    const kindText = `${KIND_LABELS[event.kind] ?? event.kind}${event.limit ? `: ${limitLabel(event.limit)}` : ''}${event.count > 1 ? ` ×${event.count}` : ''}`;
    return h(
      'tr',
      { class: markNew ? 'fresh' : null, 'data-testid': 'event-row', 'data-id': event.id, 'data-kind': event.kind },
      h('td', { 'data-label': 'Time' }, h('time', { datetime: new Date(event.at).toISOString() }, formatTime(event.at))),
      h('td', { 'data-label': 'Kind' }, h('span', { class: `badge kind-${event.kind}`, title: event.limit ?? null }, kindText)),
      h('td', { 'data-label': 'Client id', class: 'mono' }, event.clientId ?? '—'),
      h('td', { 'data-label': 'Token', title: event.tokenId ?? null }, tokenName ?? event.tokenId ?? '—'),
      h('td', { 'data-label': 'Message' }, h('span', null, event.message, typeof address === 'string' && !event.message.includes(address) ? h('span', { class: 'muted' }, ` · from ${address}`) : null)),
      h(
        'td',
        { 'data-label': 'Reason', class: 'mono' },
        code === undefined ? '' : h('abbr', { title: reasonName(code, event.kind === 'disconnect' || event.kind === 'kick' ? 'disconnect' : 'connack') ?? 'unknown reason code' }, formatReasonCode(code)),
      ),
    );
  }

  /** The token select and names: the tenant's tokens, the chosen one kept. */
  async function loadTokens() {
    let tokens;
    try {
      tokens = await ctx.api.listTokens();
    } catch {
      return;
    }
    tokenNames = new Map(tokens.map((t) => [t.id, t.name]));
    const chosen = token.value;
    replace(
      token,
      h('option', { value: '' }, 'All tokens'),
      [...tokens].sort((a, b) => a.name.localeCompare(b.name)).map((t) => h('option', { value: t.id }, `${t.name} (${t.id})`)),
    );
    // A token since deleted stays chosen (its events are still in the log).
    if (chosen && !tokenNames.has(chosen)) token.append(h('option', { value: chosen }, chosen));
    token.value = chosen;
  }

  function setPaused(value) {
    paused = value;
    liveButton.setAttribute('aria-pressed', String(paused));
    liveButton.textContent = paused ? 'Resume live updates' : 'Pause live updates';
    if (paused) polling.stop();
    else if (shown) polling.start();
    if (loaded) renderStatus(0);
  }

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    reload();
  });
  // Selects and checkboxes apply at once; the text fields on Enter or with the button.
  token.addEventListener('change', reload);
  for (const { box } of kinds) box.addEventListener('change', reload);
  liveButton.addEventListener('click', () => setPaused(!paused));
  older.addEventListener('click', loadOlder);
  const polling = poller(fetchNewest, LIVE_MS);

  return {
    el,
    show() {
      shown = true;
      // Names first, so that the first rows show them; the log itself does not wait for a failing list.
      void loadTokens().then(() => {
        if (!shown) return;
        if (!loaded) reload();
        else if (!paused) polling.start();
      });
    },
    hide() {
      shown = false;
      polling.stop();
    },
    dispose() {
      shown = false;
      polling.stop();
    },
  };
}
