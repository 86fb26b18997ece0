// Tokens & ACLs: list a tenant's tokens (searched by name or id, a page at a time, with when each was last
// used); create one (the secret is shown once), edit its ordered ACL (allow and deny entries), client-id
// patterns, limits and expiry, enable/disable it, rotate its secret, revoke (delete) it; test what an ACL
// decides for a topic.
import { field, formatAgo, formatTime, h, replace } from '../dom.js';
import { confirmAction, copyText, empty, notify } from '../ui.js';

const LIMITS = [
  ['maxConnections', 'Max connections', 'concurrent MQTT connections with this token'],
  ['publishRate', 'Publish rate', 'PUBLISH packets per second per connection'],
  ['maxMessageSize', 'Max message size', 'payload bytes'],
  ['maxSubscriptions', 'Max subscriptions', 'per session'],
  ['maxQueued', 'Max queued', 'messages per offline session'],
];
/** Tokens per page: "last used" is read for the page shown only (it lives in each token's own object). */
const PAGE_SIZE = 20;

export function createTokensPage(ctx) {
  const list = h('ul', { class: 'cards', 'aria-label': 'Tokens' });
  const creator = h('div');
  const reveal = h('div');
  const newButton = h('button', { type: 'button', class: 'primary', onclick: openCreator }, 'New token');
  const tester = aclTester(ctx);
  const search = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'name or id' });
  const found = h('p', { class: 'muted', 'data-testid': 'tokens-summary' });
  const previous = h('button', { type: 'button', disabled: true, onclick: () => show(pageIndex - 1) }, 'Previous');
  const next = h('button', { type: 'button', disabled: true, onclick: () => show(pageIndex + 1) }, 'Next');
  const pageLabel = h('span', { class: 'muted' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Tokens pages', hidden: true }, previous, pageLabel, next);
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'tokens-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'tokens-title' }, 'Tokens & ACLs'), newButton),
    reveal,
    creator,
    h(
      'form',
      { class: 'toolbar', role: 'search', 'aria-label': 'Find tokens', novalidate: true, onsubmit: (event) => event.preventDefault() },
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Search tokens'), search, h('small', { class: 'hint' }, 'Matches any part of the name (any case) or id, across all tokens.')),
    ),
    found,
    list,
    pager,
    tester.el,
  );
  /** Every token of the tenant, as last loaded (the list is one cheap call; the page shown is a slice). */
  let all = [];
  let pageIndex = 0;
  search.addEventListener('input', () => show(0));

  function openCreator() {
    newButton.disabled = true;
    const editor = tokenEditor({ name: '', acl: [{ filter: '', rights: ['pub', 'sub'] }], limits: {}, expiresAt: null, enabled: true, clientIds: [] });
    const form = h(
      'form',
      { class: 'card', 'aria-label': 'Create token', novalidate: true },
      h('h2', null, 'New token'),
      editor.el,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: closeCreator }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Create token')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const input = editor.read();
      if (!input) return;
      const created = await ctx.run(() => ctx.api.createToken(input), 'Create token').catch(() => undefined);
      if (!created) return;
      closeCreator();
      showSecret(created.token, created.info.name);
      await load();
    });
    replace(creator, form);
    form.querySelector('input')?.focus();
  }

  function closeCreator() {
    creator.replaceChildren();
    newButton.disabled = false;
  }

  /** The token string is only ever in this response: show it once, with Copy. */
  function showSecret(token, name, rotated = false) {
    const output = h('output', { class: 'secret', 'data-testid': 'new-token', 'aria-label': 'New token value' }, token);
    const copy = h('button', { type: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      const ok = await copyText(token, output);
      copy.textContent = ok ? 'Copied' : 'Select and copy';
    });
    const use = h('button', { type: 'button', onclick: () => {
      ctx.page('client').useToken(token);
      ctx.navigate('client');
    } }, 'Use in web client');
    const region = h(
      'div',
      { class: 'card reveal', role: 'region', 'aria-label': 'New token' },
      h('h2', null, 'Token “', name, rotated ? '” has a new secret' : '” created'),
      h(
        'p',
        null,
        rotated ? 'The old secret no longer works; clients connected with it stay connected until they reconnect. ' : '',
        'Copy it now: it is shown only this once. Clients use it as the MQTT username with an empty password.',
      ),
      output,
      h('div', { class: 'actions' }, copy, use, h('button', { type: 'button', onclick: () => reveal.replaceChildren() }, 'Done')),
    );
    replace(reveal, region);
    region.scrollIntoView({ block: 'nearest' });
  }

  async function load() {
    const tokens = await ctx.run(() => ctx.api.listTokens(), 'Load tokens').catch(() => undefined);
    if (!tokens) return;
    tokens.sort((a, b) => Number(b.master) - Number(a.master) || a.createdAt - b.createdAt);
    all = tokens;
    show(pageIndex);
    tester.setTokens(tokens);
  }

  /** Shows page `index` of the tokens matching the search, then reads "last used" for those only. */
  function show(index) {
    const needle = search.value.trim().toLowerCase();
    const matching = needle ? all.filter((t) => t.name.toLowerCase().includes(needle) || t.id.includes(needle)) : all;
    const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
    pageIndex = Math.min(Math.max(0, index), pages - 1);
    const shown = matching.slice(pageIndex * PAGE_SIZE, (pageIndex + 1) * PAGE_SIZE);
    const cards = shown.map(tokenCard);
    replace(list, cards.length ? cards.map((card) => card.el) : h('li', null, empty(needle ? `No token name or id contains “${search.value.trim()}”.` : 'No tokens yet.')));
    replace(found, needle ? `${matching.length} of ${all.length} tokens match` : `${all.length} token${all.length === 1 ? '' : 's'}`);
    replace(pageLabel, `Page ${pageIndex + 1} of ${pages}`);
    previous.disabled = pageIndex === 0;
    next.disabled = pageIndex >= pages - 1;
    pager.hidden = pages === 1;
    if (shown.length === 0) return;
    ctx.api.lastUsed(shown.map((t) => t.id)).then(
      (used) => cards.forEach((card) => card.setLastUsed(used[card.id] ?? null)),
      () => cards.forEach((card) => card.setLastUsed(undefined)),
    );
  }

  function tokenCard(token) {
    const self = ctx.auth.kind === 'master' && ctx.auth.tokenId === token.id;
    const expired = token.expiresAt !== null && token.expiresAt <= Date.now();
    const body = h('div');
    const card = h('li', { class: 'card token', 'data-testid': 'token-row', 'data-token-id': token.id, 'aria-label': `Token ${token.name}` }, body);
    const selfNote = 'You are signed in with this token';
    /** Filled in once the page's "last used" arrives; kept across view() re-renders. */
    const lastUsed = h('dd', { 'data-testid': 'last-used' }, '…');

    function view() {
      replace(
        body,
        h(
          'div',
          { class: 'card-head' },
          h('h3', null, token.name),
          token.master ? h('span', { class: 'badge' }, 'master') : null,
          !token.enabled ? h('span', { class: 'badge warn' }, 'disabled') : null,
          expired ? h('span', { class: 'badge warn' }, 'expired') : null,
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'Id'), h('dd', null, h('code', null, token.id)),
          h('dt', null, 'Created'), h('dd', null, formatTime(token.createdAt)),
          h('dt', null, 'Last used'), lastUsed,
          h('dt', null, 'Expires'), h('dd', null, token.expiresAt === null ? 'never' : formatTime(token.expiresAt)),
          h('dt', null, 'Limits'), h('dd', null, limitsText(token.limits)),
          h('dt', null, 'Client ids'), h('dd', { 'data-testid': 'client-ids' }, token.clientIds?.length ? token.clientIds.map((pattern) => [h('code', null, pattern), ' ']) : 'any'),
        ),
        h('h4', null, 'ACL'),
        token.acl.length
          ? h('ol', { class: 'acl', 'aria-label': `ACL of ${token.name}` }, token.acl.map(aclEntryItem))
          : h('p', { class: 'muted' }, 'No entries: this token may neither publish nor subscribe (except $SYS reads).'),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', onclick: edit }, 'Edit'),
          h('button', { type: 'button', onclick: () => tester.pick(token.id), 'aria-label': `Test the ACL of ${token.name}` }, 'Test ACL'),
          h('button', { type: 'button', onclick: toggle, disabled: self, title: self ? selfNote : undefined }, token.enabled ? 'Disable' : 'Enable'),
          h('button', { type: 'button', onclick: rotate, 'aria-label': `Rotate the secret of ${token.name}` }, 'Rotate secret'),
          h('button', { type: 'button', class: 'danger', onclick: revoke, disabled: self, title: self ? selfNote : undefined }, 'Revoke'),
        ),
      );
    }

    function edit() {
      const editor = tokenEditor(token);
      const form = h(
        'form',
        { 'aria-label': `Edit token ${token.name}`, novalidate: true },
        h('h3', null, 'Edit “', token.name, '”'),
        editor.el,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: view }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Save')),
      );
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const input = editor.read();
        if (!input) return;
        if (self && input.enabled === false) return notify(selfNote + '; disabling it would lock you out.', 'error');
        const updated = await ctx.run(() => ctx.api.updateToken(token.id, input), 'Save token').catch(() => undefined);
        if (!updated) return;
        Object.assign(token, updated);
        notify(`Saved “${token.name}”.`);
        view();
      });
      replace(body, form);
      form.querySelector('input')?.focus();
    }

    async function toggle() {
      const updated = await ctx.run(() => ctx.api.updateToken(token.id, { enabled: !token.enabled }), 'Update token').catch(() => undefined);
      if (!updated) return;
      Object.assign(token, updated);
      notify(`“${token.name}” ${token.enabled ? 'enabled' : 'disabled'}.`);
      view();
    }

    async function rotate() {
      const sure = await confirmAction(
        `Give “${token.name}” a new secret? The old one stops working at once; clients connected with it stay connected until they reconnect, and then need the new token.`,
        'Rotate secret',
      );
      if (!sure) return;
      const rotated = await ctx.run(() => ctx.api.rotateToken(token.id), 'Rotate secret').catch(() => undefined);
      if (!rotated) return;
      // Signed in with this very token: the dashboard goes on with the new secret.
      if (self) ctx.replaceToken(rotated.token);
      showSecret(rotated.token, token.name, true);
    }

    async function revoke() {
      const sure = await confirmAction(`Revoke “${token.name}”? Its connections are closed and it can never connect again.`, 'Revoke');
      if (!sure) return;
      const done = await ctx.run(() => ctx.api.deleteToken(token.id).then(() => true), 'Revoke token').catch(() => false);
      if (!done) return;
      notify(`Revoked “${token.name}”.`);
      card.remove();
      all = all.filter((t) => t.id !== token.id);
    }

    view();
    return {
      el: card,
      id: token.id,
      /** ms, null = not used since it was recorded, undefined = could not be read. */
      setLastUsed(at) {
        replace(lastUsed, at === undefined ? '—' : at === null ? 'never' : formatAgo(at));
        if (at) lastUsed.title = formatTime(at);
      },
    };
  }

  return {
    el,
    show: load,
    // The secret is shown once: leaving the page forgets it.
    hide: () => reveal.replaceChildren(),
  };
}

/** One ACL entry as listed: its place (entries are evaluated in order), allow or deny, filter and rights. */
function aclEntryItem(entry, index) {
  const deny = entry.access === 'deny';
  return h(
    'li',
    { 'data-testid': 'acl-entry' },
    h('span', { class: 'acl-number' }, `${index + 1}.`),
    h('span', { class: deny ? 'badge deny' : 'badge ok' }, deny ? 'deny' : 'allow'),
    h('code', null, entry.filter),
    ' ',
    h('span', { class: 'rights' }, entry.rights.join(' + ')),
  );
}

/**
 * "Test this ACL": what a token's ACL decides for an action on a topic, and which entry decided (the API
 * evaluates it with the broker's own rules). setTokens() fills the token choice; pick() preselects one.
 */
function aclTester(ctx) {
  // Named explicitly: a select's own options would otherwise join the name its label gives it.
  const token = h('select', { required: true, 'aria-label': 'Token to test' });
  const clientId = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'optional' });
  const action = h(
    'select',
    null,
    h('option', { value: 'publish' }, 'publish'),
    h('option', { value: 'subscribe' }, 'subscribe'),
    h('option', { value: 'receive' }, 'receive (delivery of a message)'),
  );
  const topic = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'devices/d42/temp' });
  const result = h('output', { class: 'acl-result', 'data-testid': 'acl-test-result', 'aria-live': 'polite' });
  let names = new Map();
  const el = h(
    'form',
    { class: 'card acl-tester', 'aria-label': 'Test this ACL', novalidate: true },
    h('h2', null, 'Test this ACL'),
    h('p', { class: 'hint' }, 'What a token’s ACL decides, and which entry decides it. Receive is checked when a message is delivered to a subscriber.'),
    h(
      'div',
      { class: 'grid' },
      field('Token to test', token),
      field('Client id', clientId, 'fills %c; checked against the token’s client ids'),
      field('Action', action),
      field('Topic', topic, 'a topic name; a topic filter for subscribe'),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Test')),
    result,
  );

  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!token.value) return replace(result, h('span', { class: 'error' }, 'Choose a token.'));
    if (!topic.value) {
      topic.focus();
      return replace(result, h('span', { class: 'error' }, 'Enter a topic.'));
    }
    const input = { tokenId: token.value, action: action.value, topic: topic.value, ...(clientId.value ? { clientId: clientId.value } : {}) };
    const answer = await ctx.run(() => ctx.api.testAcl(input), 'Test ACL').catch(() => undefined);
    if (!answer) return replace(result);
    replace(
      result,
      h('strong', { class: answer.allowed ? 'verdict ok' : 'verdict denied', 'data-testid': 'acl-verdict' }, answer.allowed ? 'Allowed' : 'Denied'),
      ' ',
      h('span', { 'data-testid': 'acl-deciding-entry' }, answer.entry === null ? 'no entry decided' : `by entry ${answer.entry + 1}`),
      ' · ',
      h('span', { class: 'muted' }, names.get(input.tokenId) ?? input.tokenId),
      h('p', { class: 'muted', 'data-testid': 'acl-reason' }, answer.reason),
      answer.clientIdAllowed === null
        ? null
        : h(
            'p',
            { 'data-testid': 'acl-client-id' },
            answer.clientIdAllowed ? 'This client id is allowed for the token.' : 'This client id is not allowed for the token: its CONNECT would be refused.',
          ),
    );
  });

  return {
    el,
    setTokens(tokens) {
      const chosen = token.value;
      names = new Map(tokens.map((t) => [t.id, t.name]));
      replace(token, h('option', { value: '' }, 'Choose a token'), tokens.map((t) => h('option', { value: t.id }, `${t.name} (${t.id})`)));
      if (names.has(chosen)) token.value = chosen;
    },
    pick(id) {
      token.value = id;
      replace(result);
      el.scrollIntoView({ block: 'nearest' });
      topic.focus();
    },
  };
}

function limitsText(limits) {
  const set = LIMITS.filter(([key]) => limits?.[key] !== undefined).map(([key, label]) => `${label.toLowerCase()} ${limits[key]}`);
  return set.length ? set.join(', ') : 'deployment defaults';
}

/** datetime-local value ↔ ms since the epoch (local time). */
function toLocalInput(ms) {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The fields of a token (name, ACL rows, limits, expiry, enabled). read() returns the API input, or
 * undefined after showing what is wrong.
 */
function tokenEditor(token) {
  const name = h('input', { type: 'text', value: token.name, maxlength: 100, autocomplete: 'off', required: true });
  const rows = h('div', { class: 'acl-rows' });
  const problem = h('p', { class: 'error', role: 'alert' });

  function renumber() {
    const all = [...rows.children];
    all.forEach((row, i) => {
      const n = i + 1;
      row.querySelector('.acl-number').textContent = `${n}.`;
      row.querySelector('.acl-access').setAttribute('aria-label', `ACL entry ${n} access`);
      row.querySelector('.acl-filter').setAttribute('aria-label', `ACL entry ${n} topic filter`);
      row.querySelector('.acl-pub').setAttribute('aria-label', `ACL entry ${n} publish`);
      row.querySelector('.acl-sub').setAttribute('aria-label', `ACL entry ${n} subscribe`);
      row.querySelector('.acl-up').setAttribute('aria-label', `Move ACL entry ${n} up`);
      row.querySelector('.acl-down').setAttribute('aria-label', `Move ACL entry ${n} down`);
      row.querySelector('.acl-remove').setAttribute('aria-label', `Remove ACL entry ${n}`);
      row.querySelector('.acl-up').disabled = i === 0;
      row.querySelector('.acl-down').disabled = i === all.length - 1;
    });
  }

  /** Order matters (the first matching entry decides): swaps a row with its neighbour, keeping the focus on it. */
  function move(row, step, button) {
    const neighbour = step < 0 ? row.previousElementSibling : row.nextElementSibling;
    if (!neighbour) return;
    if (step < 0) rows.insertBefore(row, neighbour);
    else rows.insertBefore(neighbour, row);
    renumber();
    (button.disabled ? row.querySelector('.acl-filter') : button).focus();
  }

  function addRow(entry) {
    const access = h('select', { class: 'acl-access' }, h('option', { value: 'allow' }, 'allow'), h('option', { value: 'deny' }, 'deny'));
    access.value = entry.access === 'deny' ? 'deny' : 'allow';
    const up = h('button', { type: 'button', class: 'acl-up acl-move', onclick: () => move(row, -1, up) }, '↑');
    const down = h('button', { type: 'button', class: 'acl-down acl-move', onclick: () => move(row, 1, down) }, '↓');
    const row = h(
      'div',
      { class: 'acl-row', role: 'group' },
      h('span', { class: 'acl-number', 'aria-hidden': 'true' }),
      access,
      h('input', { type: 'text', class: 'acl-filter', value: entry.filter, placeholder: 'devices/%c/#', autocomplete: 'off', spellcheck: 'false' }),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', class: 'acl-pub', checked: entry.rights.includes('pub') }), 'pub'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', class: 'acl-sub', checked: entry.rights.includes('sub') }), 'sub'),
      up,
      down,
      h('button', { type: 'button', class: 'acl-remove link', onclick: () => (row.remove(), renumber()) }, 'Remove'),
    );
    rows.append(row);
    renumber();
    return row;
  }

  for (const entry of token.acl) addRow(entry);

  const limitInputs = Object.fromEntries(
    LIMITS.map(([key]) => [key, h('input', { type: 'number', min: 1, step: 1, inputmode: 'numeric', value: token.limits?.[key] ?? '', placeholder: 'none' })]),
  );
  const clientIds = h('textarea', { rows: 3, spellcheck: 'false', autocomplete: 'off', placeholder: 'sensor-%u-*', value: (token.clientIds ?? []).join('\n') });
  const expires = h('input', { type: 'datetime-local', value: toLocalInput(token.expiresAt) });
  const enabled = h('input', { type: 'checkbox', checked: token.enabled });

  const el = h(
    'div',
    { class: 'editor' },
    field('Name', name),
    h(
      'fieldset',
      null,
      h('legend', null, 'ACL'),
      h('p', { class: 'hint' }, 'Checked in order: the first entry whose rights and topic filter match decides, allow or deny; none matches = denied. %c is the client id, %u the token id (the middle part of the token, not the whole username).'),
      rows,
      h('button', { type: 'button', onclick: () => addRow({ filter: '', rights: ['pub', 'sub'] }).querySelector('.acl-filter')?.focus() }, 'Add ACL entry'),
    ),
    field('Allowed client ids', clientIds, 'One pattern per line: * matches any characters, %u is the token id. Empty = any client id.'),
    h('fieldset', null, h('legend', null, 'Limits (empty = no limit)'), h('div', { class: 'grid' }, LIMITS.map(([key, label, hint]) => field(label, limitInputs[key], hint)))),
    h('div', { class: 'grid' }, field('Expires (empty = never)', expires), h('label', { class: 'check' }, enabled, 'Enabled')),
    problem,
  );

  function read() {
    problem.textContent = '';
    const fail = (message, control) => {
      problem.textContent = message;
      control?.focus();
      return undefined;
    };
    if (!name.value.trim()) return fail('Give the token a name.', name);
    const acl = [];
    for (const [i, row] of [...rows.children].entries()) {
      const filter = row.querySelector('.acl-filter');
      const rights = [row.querySelector('.acl-pub').checked && 'pub', row.querySelector('.acl-sub').checked && 'sub'].filter(Boolean);
      if (!filter.value && rights.length === 0) continue;
      if (!filter.value) return fail(`ACL entry ${i + 1} needs a topic filter.`, filter);
      if (rights.length === 0) return fail(`ACL entry ${i + 1} needs pub, sub or both.`, filter);
      // Absent access means allow: only a deny is written out.
      const deny = row.querySelector('.acl-access').value === 'deny';
      acl.push({ filter: filter.value, rights, ...(deny ? { access: 'deny' } : {}) });
    }
    const patterns = clientIds.value.split('\n').map((line) => line.trim()).filter(Boolean);
    if (patterns.length > 50) return fail('At most 50 client id patterns.', clientIds);
    if (patterns.some((pattern) => pattern.length > 256)) return fail('A client id pattern has at most 256 characters.', clientIds);
    const limits = {};
    for (const [key, label] of LIMITS) {
      const raw = limitInputs[key].value.trim();
      if (raw === '') continue;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1) return fail(`${label} must be a whole number of at least 1.`, limitInputs[key]);
      limits[key] = n;
    }
    let expiresAt = null;
    if (expires.value) {
      expiresAt = new Date(expires.value).getTime();
      if (Number.isNaN(expiresAt)) return fail('The expiry is not a valid date.', expires);
    }
    return { name: name.value.trim(), acl, limits, expiresAt, enabled: enabled.checked, clientIds: patterns };
  }

  return { el, read };
}
