// Bridges: the tenant's connections to other MQTT brokers, each with its state, last error and counters
// (refreshed while the page is shown); create or edit one (topic mappings in and/or out with prefixes; the
// password is write-only: the API never sends it back, only whether one is set), delete one.
import { field, formatAgo, formatTime, h, replace } from '../dom.js';
import { confirmAction, empty, notify, poller } from '../ui.js';

/** Status refresh while the page is shown. */
const REFRESH_MS = 3000;
const DIRECTIONS = [
  ['out', 'out (here → remote)'],
  ['in', 'in (remote → here)'],
  ['both', 'both'],
];
/** Here on the left, the remote on the right. */
const ARROWS = { out: '→', in: '←', both: '⇄' };
const STATE_BADGE = { connected: 'ok', connecting: 'warn', backoff: 'warn', error: 'deny', disabled: '' };

export function createBridgesPage(ctx) {
  const list = h('ul', { class: 'cards', 'aria-label': 'Bridges' });
  const editor = h('div');
  const summary = h('p', { class: 'muted', 'data-testid': 'bridges-summary' }, 'Loading…');
  const newButton = h('button', { type: 'button', class: 'primary', onclick: () => openEditor() }, 'New bridge');
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'bridges-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'bridges-title' }, 'Bridges'), newButton),
    h(
      'p',
      { class: 'hint' },
      'A bridge connects this tenant to another MQTT broker (mqtt://, mqtts://, ws://, wss://) and carries the mapped topics in and/or out at QoS 0 or 1. ' +
        'Sessions on both sides are persistent, so QoS 1 messages wait out a reconnect.',
    ),
    editor,
    summary,
    list,
  );
  /** The editor open (create or edit); the refresh leaves it alone. */
  let editing = false;

  function openEditor(bridge) {
    editing = true;
    newButton.disabled = true;
    const form = bridgeForm(bridge, {
      async save(input) {
        const saved = await ctx
          .run(() => (bridge ? ctx.api.updateBridge(bridge.name, input) : ctx.api.createBridge(input)), bridge ? 'Save bridge' : 'Create bridge')
          .catch(() => undefined);
        if (!saved) return false;
        closeEditor();
        notify(bridge ? `Saved bridge ${saved.name}; it reconnects.` : `Created bridge ${saved.name}.`);
        await load();
        return true;
      },
      cancel: closeEditor,
    });
    replace(editor, form);
    form.querySelector('input')?.focus();
  }

  function closeEditor() {
    editing = false;
    newButton.disabled = false;
    editor.replaceChildren();
  }

  async function remove(bridge) {
    if (!(await confirmAction(`Delete bridge “${bridge.name}”? Its sessions end, with any messages queued for it.`, 'Delete bridge'))) return;
    const done = await ctx.run(() => ctx.api.deleteBridge(bridge.name), 'Delete bridge').then(() => true, () => false);
    if (!done) return;
    notify(`Deleted bridge ${bridge.name}.`);
    await load();
  }

  function card(bridge) {
    const { status } = bridge;
    const counters = status.counters;
    const directions = bridge.topics.map((t) => `${t.direction} ${t.localPrefix}${t.pattern} ${ARROWS[t.direction]} ${t.remotePrefix}${t.pattern} (QoS ${t.qos})`);
    const item = (label, ...value) => [h('dt', null, label), h('dd', null, ...value)];
    return h(
      'li',
      { class: 'card', 'aria-label': `Bridge ${bridge.name}`, 'data-testid': 'bridge-card', 'data-name': bridge.name },
      h(
        'div',
        { class: 'page-head' },
        h('h2', null, h('span', { class: 'mono' }, bridge.name), ' ', h('span', { class: `badge ${STATE_BADGE[status.state] ?? ''}`, 'data-testid': 'bridge-state' }, status.state)),
        h(
          'div',
          { class: 'row-actions' },
          h('button', { type: 'button', onclick: () => openEditor(bridge), 'aria-label': `Edit bridge ${bridge.name}` }, 'Edit'),
          h('button', { type: 'button', class: 'danger', onclick: () => void remove(bridge), 'aria-label': `Delete bridge ${bridge.name}` }, 'Delete'),
        ),
      ),
      h(
        'dl',
        { class: 'facts' },
        item('Remote', h('span', { class: 'mono' }, bridge.url), ` · MQTT ${bridge.protocolVersion === 5 ? '5.0' : '3.1.1'} · client id `, h('span', { class: 'mono' }, bridge.clientId)),
        item('Credentials', bridge.username ? ['user ', h('span', { class: 'mono' }, bridge.username)] : 'no username', bridge.passwordSet ? ' · password set' : ' · no password'),
        item('Topics', h('ul', { class: 'plain' }, directions.map((text) => h('li', { class: 'mono' }, text)))),
        item(
          'Status',
          status.state === 'connected' ? `connected since ${formatTime(status.connectedSince)}` : status.nextAttemptAt ? `next attempt ${formatTime(status.nextAttemptAt)}` : status.state,
          ` · ${status.reconnects} reconnect${status.reconnects === 1 ? '' : 's'}`,
        ),
        item(
          'Messages',
          h('span', { 'data-testid': 'bridge-counters' }, `${counters.messagesIn} in · ${counters.messagesOut} out · ${counters.dropped} dropped (loop) · ${counters.failed} refused`),
        ),
        status.lastError ? item('Last error', h('span', { class: 'error', 'data-testid': 'bridge-error' }, status.lastError), ` (${formatAgo(status.lastErrorAt)})`) : null,
      ),
    );
  }

  async function load() {
    const bridges = await ctx.api.listBridges().catch((error) => {
      replace(summary, `Could not load the bridges: ${error.message}`);
      return undefined;
    });
    if (!bridges) return;
    replace(summary, bridges.length === 1 ? '1 bridge' : `${bridges.length} bridges`);
    replace(list, bridges.length ? bridges.map(card) : h('li', null, empty('No bridges yet: create one to connect this tenant to another broker.')));
  }

  const refresh = poller(async () => {
    if (!editing) await load();
  }, REFRESH_MS);

  return {
    el,
    show: () => refresh.start(),
    hide: () => refresh.stop(),
    dispose: () => refresh.stop(),
  };
}

/** The create / edit form; `save(input)` resolves true when the API took it. */
function bridgeForm(bridge, { save, cancel }) {
  const creating = !bridge;
  const input = (props) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...props });
  const name = input({ value: bridge?.name ?? '', placeholder: 'cloud', maxlength: 32, disabled: !creating });
  const url = input({ value: bridge?.url ?? '', placeholder: 'mqtts://broker.example:8883' });
  const version = h('select', null, h('option', { value: '5' }, 'MQTT 5.0'), h('option', { value: '4' }, 'MQTT 3.1.1'));
  version.value = String(bridge?.protocolVersion ?? 5);
  const clientId = input({ value: bridge?.clientId ?? '', placeholder: 'default: edge-<tenant>-<name>' });
  const username = input({ value: bridge?.username ?? '' });
  const password = h('input', { type: 'password', autocomplete: 'new-password', placeholder: bridge?.passwordSet ? 'unchanged (a password is set)' : 'none' });
  const clearPassword = h('input', { type: 'checkbox' });
  const keepAlive = h('input', { type: 'number', min: 5, max: 3600, step: 1, value: bridge?.keepAlive ?? 60 });
  const maxHops = h('input', { type: 'number', min: 1, max: 8, step: 1, value: bridge?.maxHops ?? 1 });
  const enabled = h('input', { type: 'checkbox', checked: bridge?.enabled ?? true });
  const cleanStart = h('input', { type: 'checkbox', checked: bridge?.cleanStart ?? false });
  const rows = h('tbody');
  const problem = h('p', { class: 'error', role: 'alert' });

  function topicRow(topic) {
    const pattern = input({ value: topic.pattern, placeholder: 'sensors/#', 'aria-label': 'Topic pattern', class: 'topic-pattern' });
    const direction = h('select', { 'aria-label': 'Direction', class: 'topic-direction' }, DIRECTIONS.map(([value, label]) => h('option', { value }, label)));
    direction.value = topic.direction;
    const qos = h('select', { 'aria-label': 'QoS', class: 'topic-qos' }, h('option', { value: '1' }, '1'), h('option', { value: '0' }, '0'));
    qos.value = String(topic.qos);
    const localPrefix = input({ value: topic.localPrefix, placeholder: 'none', 'aria-label': 'Local prefix', class: 'topic-local' });
    const remotePrefix = input({ value: topic.remotePrefix, placeholder: 'none', 'aria-label': 'Remote prefix', class: 'topic-remote' });
    const row = h(
      'tr',
      { 'data-testid': 'topic-row' },
      [pattern, direction, qos, localPrefix, remotePrefix].map((control) => h('td', null, control)),
      h('td', null, h('button', { type: 'button', 'aria-label': 'Remove topic', onclick: () => row.remove() }, '×')),
    );
    return row;
  }
  for (const topic of bridge?.topics ?? [{ pattern: '', direction: 'out', qos: 1, localPrefix: '', remotePrefix: '' }]) rows.append(topicRow(topic));

  function read() {
    const topics = [...rows.children].map((row) => ({
      pattern: row.querySelector('.topic-pattern').value.trim(),
      direction: row.querySelector('.topic-direction').value,
      qos: Number(row.querySelector('.topic-qos').value),
      localPrefix: row.querySelector('.topic-local').value,
      remotePrefix: row.querySelector('.topic-remote').value,
    }));
    if (creating && !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name.value.trim())) return fail('A bridge name is 1–32 characters of a–z, 0–9, _ and -, starting with a letter or digit.', name);
    if (!/^(mqtts?|wss?):\/\//i.test(url.value.trim())) return fail('The remote URL starts with mqtt://, mqtts://, ws:// or wss://.', url);
    if (topics.length === 0 || topics.some((t) => t.pattern === '')) return fail('Each topic mapping needs a pattern (e.g. sensors/#).');
    const body = {
      name: bridge?.name ?? name.value.trim(),
      url: url.value.trim(),
      protocolVersion: Number(version.value),
      ...(clientId.value.trim() ? { clientId: clientId.value.trim() } : {}),
      ...(username.value ? { username: username.value } : {}),
      keepAlive: Number(keepAlive.value),
      maxHops: Number(maxHops.value),
      enabled: enabled.checked,
      cleanStart: cleanStart.checked,
      topics,
    };
    // Write-only: sent when typed (or cleared on purpose); left out, the stored one is kept.
    if (password.value !== '') body.password = password.value;
    else if (clearPassword.checked) body.password = '';
    return body;
  }

  function fail(text, control) {
    problem.textContent = text;
    control?.focus();
    return undefined;
  }

  const form = h(
    'form',
    { class: 'card', 'aria-label': creating ? 'Create bridge' : `Edit bridge ${bridge.name}`, novalidate: true },
    h('h2', null, creating ? 'New bridge' : ['Edit bridge “', bridge.name, '”']),
    h(
      'div',
      { class: 'grid' },
      field('Name', name, creating ? 'a–z, 0–9, _ and -' : 'a bridge keeps its name'),
      field('Remote URL', url, 'mqtt://host:1883, mqtts://host:8883, ws(s)://host/mqtt'),
      field('Protocol', version),
      field('Remote client id', clientId),
      field('Username', username),
      field('Password', password, 'write-only: never shown again'),
      field('Keepalive (s)', keepAlive),
      field('Max hops', maxHops, 'bridges a message may have crossed and still be bridged'),
    ),
    h(
      'div',
      { class: 'actions' },
      h('label', { class: 'check' }, enabled, 'Enabled'),
      h('label', { class: 'check' }, cleanStart, 'Clean start (drops queued messages)'),
      bridge?.passwordSet ? h('label', { class: 'check' }, clearPassword, 'Remove the stored password') : null,
    ),
    h('h3', null, 'Topics'),
    h(
      'table',
      { class: 'data', 'aria-label': 'Topic mappings' },
      h('thead', null, h('tr', null, ['Pattern', 'Direction', 'QoS', 'Local prefix', 'Remote prefix', ''].map((title) => h('th', { scope: 'col' }, title)))),
      rows,
    ),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => rows.append(topicRow({ pattern: '', direction: 'both', qos: 1, localPrefix: '', remotePrefix: '' })) }, 'Add topic')),
    problem,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: cancel }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, creating ? 'Create bridge' : 'Save bridge')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.textContent = '';
    const body = read();
    if (body) await save(body);
  });
  return form;
}
