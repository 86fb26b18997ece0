// Tokens & ACLs: list a tenant's tokens; create one (the secret is shown once), edit its ACL, limits and
// expiry, enable/disable it, revoke (delete) it.
import { field, formatTime, h, replace } from '../dom.js';
import { confirmAction, empty, notify } from '../ui.js';

const LIMITS = [
  ['maxConnections', 'Max connections', 'concurrent MQTT connections with this token'],
  ['publishRate', 'Publish rate', 'PUBLISH packets per second per connection'],
  ['maxMessageSize', 'Max message size', 'payload bytes'],
  ['maxSubscriptions', 'Max subscriptions', 'per session'],
  ['maxQueued', 'Max queued', 'messages per offline session'],
];

export function createTokensPage(ctx) {
  const list = h('ul', { class: 'cards', 'aria-label': 'Tokens' });
  const creator = h('div');
  const reveal = h('div');
  const newButton = h('button', { type: 'button', class: 'primary', onclick: openCreator }, 'New token');
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'tokens-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'tokens-title' }, 'Tokens & ACLs'), newButton),
    reveal,
    creator,
    list,
  );

  function openCreator() {
    newButton.disabled = true;
    const editor = tokenEditor({ name: '', acl: [{ filter: '', rights: ['pub', 'sub'] }], limits: {}, expiresAt: null, enabled: true });
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
  function showSecret(token, name) {
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
      h('h2', null, 'Token “', name, '” created'),
      h('p', null, 'Copy it now: it is shown only this once. Clients use it as the MQTT username with an empty password.'),
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
    replace(list, tokens.length ? tokens.map(tokenCard) : h('li', null, empty('No tokens yet.')));
  }

  function tokenCard(token) {
    const self = ctx.auth.kind === 'master' && ctx.auth.tokenId === token.id;
    const expired = token.expiresAt !== null && token.expiresAt <= Date.now();
    const body = h('div');
    const card = h('li', { class: 'card token', 'data-testid': 'token-row', 'data-token-id': token.id, 'aria-label': `Token ${token.name}` }, body);
    const selfNote = 'You are signed in with this token';

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
          h('dt', null, 'Expires'), h('dd', null, token.expiresAt === null ? 'never' : formatTime(token.expiresAt)),
          h('dt', null, 'Limits'), h('dd', null, limitsText(token.limits)),
        ),
        h('h4', null, 'ACL'),
        token.acl.length
          ? h('ul', { class: 'acl', 'aria-label': `ACL of ${token.name}` }, token.acl.map((entry) => h('li', null, h('code', null, entry.filter), ' ', h('span', { class: 'rights' }, entry.rights.join(' + ')))))
          : h('p', { class: 'muted' }, 'No entries: this token may neither publish nor subscribe (except $SYS reads).'),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', onclick: edit }, 'Edit'),
          h('button', { type: 'button', onclick: toggle, disabled: self, title: self ? selfNote : undefined }, token.enabled ? 'Disable' : 'Enable'),
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

    async function revoke() {
      const sure = await confirmAction(`Revoke “${token.name}”? Its connections are closed and it can never connect again.`, 'Revoke');
      if (!sure) return;
      const done = await ctx.run(() => ctx.api.deleteToken(token.id).then(() => true), 'Revoke token').catch(() => false);
      if (!done) return;
      notify(`Revoked “${token.name}”.`);
      card.remove();
    }

    view();
    return card;
  }

  return {
    el,
    show: load,
    // The secret is shown once: leaving the page forgets it.
    hide: () => reveal.replaceChildren(),
  };
}

function limitsText(limits) {
  const set = LIMITS.filter(([key]) => limits?.[key] !== undefined).map(([key, label]) => `${label.toLowerCase()} ${limits[key]}`);
  return set.length ? set.join(', ') : 'deployment defaults';
}

/** Copies to the clipboard; without clipboard access, selects the text so the person can copy it. */
async function copyText(text, element) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    return false;
  }
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
    [...rows.children].forEach((row, i) => {
      const n = i + 1;
      row.querySelector('.acl-filter').setAttribute('aria-label', `ACL entry ${n} topic filter`);
      row.querySelector('.acl-pub').setAttribute('aria-label', `ACL entry ${n} publish`);
      row.querySelector('.acl-sub').setAttribute('aria-label', `ACL entry ${n} subscribe`);
      row.querySelector('.acl-remove').setAttribute('aria-label', `Remove ACL entry ${n}`);
    });
  }

  function addRow(entry) {
    const row = h(
      'div',
      { class: 'acl-row', role: 'group' },
      h('input', { type: 'text', class: 'acl-filter', value: entry.filter, placeholder: 'devices/%c/#', autocomplete: 'off', spellcheck: 'false' }),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', class: 'acl-pub', checked: entry.rights.includes('pub') }), 'pub'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', class: 'acl-sub', checked: entry.rights.includes('sub') }), 'sub'),
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
      h('p', { class: 'hint' }, 'Topic filters with rights; %c is the client id, %u the username.'),
      rows,
      h('button', { type: 'button', onclick: () => addRow({ filter: '', rights: ['pub', 'sub'] }).querySelector('input')?.focus() }, 'Add ACL entry'),
    ),
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
      acl.push({ filter: filter.value, rights });
    }
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
    return { name: name.value.trim(), acl, limits, expiresAt, enabled: enabled.checked };
  }

  return { el, read };
}
