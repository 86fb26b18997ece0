// Sessions: the tenant's connected and offline persistent sessions with subscriptions and queue depth,
// refreshed every 2 s while the page is shown; Kick disconnects a client.
import { formatTime, h, replace } from '../dom.js';
import { empty, notify, poller } from '../ui.js';

const REFRESH_MS = 2000;

export function createSessionsPage(ctx) {
  const list = h('ul', { class: 'cards', 'aria-label': 'Sessions', 'aria-busy': 'true' });
  const summary = h('p', { class: 'muted', 'data-testid': 'sessions-summary' }, 'Loading…');
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'sessions-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'sessions-title' }, 'Sessions'), h('button', { type: 'button', onclick: () => polling.start() }, 'Refresh')),
    summary,
    list,
  );
  const polling = poller(refresh, REFRESH_MS);
  let lastRendered = '';
  /** token id → name, to say which token a session uses (loaded on each visit, before the first render). */
  let tokenNames = Promise.resolve(new Map());

  /** One poll; false stops polling. */
  async function refresh() {
    let sessions;
    try {
      sessions = await ctx.api.listSessions();
    } catch (error) {
      if (error.status === 404) {
        replace(summary, 'The sessions API is not available on this broker.');
        replace(list, h('li', null, empty('No session data.')));
        list.setAttribute('aria-busy', 'false');
        return false; // nothing to poll
      }
      if (error.status === 401) {
        await ctx.run(() => Promise.reject(error), 'Sessions').catch(() => {});
        return false;
      }
      replace(summary, `Could not load sessions: ${error.message}`);
    }
    if (sessions) render(sessions, await tokenNames);
    return true;
  }

  function render(sessions, names) {
    const key = JSON.stringify(sessions);
    if (key === lastRendered) return;
    lastRendered = key;
    sessions.sort((a, b) => Number(b.connected) - Number(a.connected) || (b.connectedAt ?? 0) - (a.connectedAt ?? 0));
    const online = sessions.filter((s) => s.connected).length;
    replace(summary, `${online} connected, ${sessions.length - online} offline (refreshed every 2 s)`);
    replace(list, sessions.length ? sessions.map((session) => sessionCard(session, names)) : h('li', null, empty('No sessions.')));
    list.setAttribute('aria-busy', 'false');
  }

  function sessionCard(session, names) {
    const tokenName = session.tokenId ? names.get(session.tokenId) : undefined;
    const kick = h('button', { type: 'button', class: 'danger', disabled: !session.connected, 'aria-label': `Kick ${session.clientId}` }, 'Kick');
    kick.addEventListener('click', async () => {
      kick.disabled = true;
      const done = await ctx.run(() => ctx.api.kick(session.clientId).then(() => true), 'Kick').catch(() => false);
      if (done) notify(`Disconnected ${session.clientId}.`);
      lastRendered = '';
      polling.start();
    });
    return h(
      'li',
      { class: 'card', 'data-testid': 'session-row', 'aria-label': `Session ${session.clientId}` },
      h(
        'div',
        { class: 'card-head' },
        h('h3', { class: 'mono' }, session.clientId),
        h('span', { class: `badge ${session.connected ? 'ok' : ''}` }, session.connected ? 'connected' : 'offline'),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, session.connected ? 'Connected' : 'Last connected'), h('dd', null, formatTime(session.connectedAt)),
        h('dt', null, 'Token'), h('dd', null, tokenName ?? session.tokenId ?? '—', tokenName ? h('span', { class: 'muted' }, ' (', session.tokenId, ')') : null),
        h('dt', null, 'Queued'), h('dd', { 'data-testid': 'queued' }, String(session.queued ?? 0)),
        session.inflight !== undefined ? [h('dt', null, 'In flight'), h('dd', null, String(session.inflight))] : null,
        countersText(session.counters) ? [h('dt', null, 'Counted'), h('dd', { 'data-testid': 'counters' }, countersText(session.counters))] : null,
      ),
      h('h4', null, `Subscriptions (${session.subscriptions.length})`),
      session.subscriptions.length
        ? h('ul', { class: 'subs', 'aria-label': `Subscriptions of ${session.clientId}` }, session.subscriptions.map((s) => h('li', null, h('code', null, s.filter), h('span', { class: 'muted' }, ` QoS ${s.qos}`))))
        : h('p', { class: 'muted' }, 'none'),
      h('div', { class: 'actions' }, kick),
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

/** A session's counters (limits hit, messages dropped) as one line of text; '' when it counted nothing. */
function countersText(counters) {
  return Object.entries(counters ?? {})
    .filter(([, value]) => value > 0)
    .map(([name, value]) => `${name.replaceAll('_', ' ')} ${value}`)
    .join(', ');
}
