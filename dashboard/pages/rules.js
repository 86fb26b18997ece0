// Rules: a tenant's topic filters whose messages go out to a webhook or a Queue. One card per rule with its
// counters, link and retry state and last errors (refreshed while shown); create, edit, test, delete. The
// webhook secret is write-only: a generated one is shown once, after creation.
import { request } from '../api.js';
import { field, formatAgo, formatTime, h, replace } from '../dom.js';
import { confirmAction, copyText, empty, notify, poller } from '../ui.js';

const REFRESH_MS = 3000;

export function createRulesPage(ctx) {
  const base = `/tenants/${encodeURIComponent(ctx.auth.tenant)}/rules`;
  const call = (method, path, body) => request(ctx.auth, method, `${base}${path}`, body);
  const list = h('ul', { class: 'cards', 'aria-label': 'Rules' });
  const editorSlot = h('div');
  const reveal = h('div');
  const summary = h('p', { class: 'muted', 'data-testid': 'rules-summary' });
  const newButton = h('button', { type: 'button', class: 'primary', onclick: () => openEditor() }, 'New rule');
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'rules-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'rules-title' }, 'Rules'), newButton),
    h('p', { class: 'muted' }, 'Messages matching a topic filter go out to an HTTPS webhook (signed, batched, retried) or a Cloudflare Queue, without a subscriber.'),
    reveal,
    editorSlot,
    summary,
    list,
  );
  const refresh = poller(load, REFRESH_MS);

  async function load() {
    let rules;
    try {
      rules = (await call('GET', '')).rules;
    } catch (error) {
      if (error.status === 404) {
        replace(summary, 'The rules API is not available on this broker.');
        return false;
      }
      await ctx.run(() => Promise.reject(error), 'Load rules').catch(() => {});
      return undefined;
    }
    replace(summary, `${rules.length} rule${rules.length === 1 ? '' : 's'} (at most 20)`);
    replace(list, rules.length ? rules.map(ruleCard) : h('li', null, empty('No rules yet.')));
    return undefined;
  }

  function ruleCard(rule) {
    const { counters: c, status, session } = rule;
    const destination = rule.destination.type === 'webhook' ? `webhook (${rule.destination.format}) ${rule.destination.url}` : `queue ${rule.destination.binding}`;
    const linkState = !rule.enabled ? 'disabled' : status.retry ? 'retrying' : status.link;
    return h(
      'li',
      { class: 'card', 'data-testid': 'rule-card', 'data-rule': rule.name },
      h('h2', { class: 'mono break' }, rule.name, ' ', h('span', { class: `badge ${linkState === 'connected' ? 'ok' : linkState === 'disabled' ? '' : 'warn'}`, 'data-testid': 'rule-state' }, linkState)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'Filter'), h('dd', { class: 'mono' }, rule.filter),
        h('dt', null, 'Destination'), h('dd', { class: 'mono break' }, destination),
        rule.destination.type === 'webhook' ? [h('dt', null, 'Secret'), h('dd', null, rule.destination.secretSet ? 'set (write-only)' : 'none')] : null,
        h('dt', null, 'Delivered'), h('dd', { 'data-testid': 'rule-delivered' }, `${c.deliveredMessages} messages in ${c.deliveredBatches} batch${c.deliveredBatches === 1 ? "" : "es"}`),
        h('dt', null, 'Failed attempts'), h('dd', { 'data-testid': 'rule-failed' }, String(c.failedAttempts)),
        h('dt', null, 'Dead-lettered'), h('dd', { 'data-testid': 'rule-dead' }, `${c.deadLetteredMessages} messages`),
        c.droppedMessages ? [h('dt', null, 'QoS 0 dropped'), h('dd', null, String(c.droppedMessages))] : null,
        h('dt', null, 'Waiting'), h('dd', null, session ? `${session.queued} queued in the rule's session, ${status.held} held by the rule` : `${status.held} held by the rule`),
        status.retry ? [h('dt', null, 'Retry'), h('dd', null, `attempt ${status.retry.attempts} failed; next ${formatTime(status.retry.nextAttemptAt)}`)] : null,
        h('dt', null, 'Last success'), h('dd', null, formatAgo(c.lastSuccessAt)),
        h('dt', null, 'Last error'), h('dd', { class: 'break', 'data-testid': 'rule-last-error' }, c.lastError ? `${c.lastError.message} (${formatAgo(c.lastError.at)})` : '—'),
      ),
      c.recentErrors.length > 1
        ? h('details', null, h('summary', null, 'Recent errors'), h('ul', null, c.recentErrors.map((e) => h('li', { class: 'break' }, `${formatTime(e.at)}: ${e.message}`))))
        : null,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => openEditor(rule), 'aria-label': `Edit rule ${rule.name}` }, 'Edit'),
        h('button', { type: 'button', onclick: () => testRule(rule), 'aria-label': `Test rule ${rule.name}` }, 'Send test'),
        h('button', { type: 'button', class: 'danger', onclick: () => deleteRule(rule), 'aria-label': `Delete rule ${rule.name}` }, 'Delete'),
      ),
    );
  }

  async function testRule(rule) {
    const result = await ctx.run(() => call('POST', `/${encodeURIComponent(rule.name)}/test`), 'Send test').catch(() => undefined);
    if (!result) return;
    notify(result.ok ? `Test message to “${rule.name}” accepted (${result.durationMs} ms).` : `Test message to “${rule.name}” failed: ${result.error}`, result.ok ? 'info' : 'error');
  }

  async function deleteRule(rule) {
    if (!(await confirmAction(`Delete rule “${rule.name}”? Messages its session still queues are dropped.`, 'Delete'))) return;
    const done = await ctx.run(() => call('DELETE', `/${encodeURIComponent(rule.name)}`).then(() => true), 'Delete rule').catch(() => false);
    if (!done) return;
    notify(`Deleted rule “${rule.name}”.`);
    await load();
  }

  /** The create (no `rule`) or edit form. */
  function openEditor(rule) {
    newButton.disabled = true;
    const d = rule?.destination ?? { type: 'webhook', format: 'json', url: '' };
    const name = h('input', { type: 'text', value: rule?.name ?? '', disabled: Boolean(rule), autocomplete: 'off', spellcheck: 'false', required: true });
    const filter = h('input', { type: 'text', value: rule?.filter ?? '', autocomplete: 'off', spellcheck: 'false', required: true });
    const enabled = h('input', { type: 'checkbox', checked: rule ? rule.enabled : true });
    const type = h('select', null, h('option', { value: 'webhook' }, 'Webhook'), h('option', { value: 'queue' }, 'Queue'));
    type.value = d.type;
    const url = h('input', { type: 'url', value: d.url ?? '', autocomplete: 'off', spellcheck: 'false' });
    const format = h('select', null, h('option', { value: 'json' }, 'JSON batches'), h('option', { value: 'raw' }, 'raw (one POST per message)'));
    format.value = d.format ?? 'json';
    const secret = h('input', { type: 'password', value: '', autocomplete: 'new-password', placeholder: rule ? 'leave empty to keep the current one' : 'leave empty to generate one' });
    const headers = h('textarea', { rows: 2, spellcheck: 'false', placeholder: 'Authorization: Bearer …' });
    // Header values are write-only: an edit shows each stored header as "Name:", which keeps its value.
    headers.value = (d.headers ?? []).map((header) => `${header.name}:`).join('\n');
    const binding = h('input', { type: 'text', value: d.binding ?? '', autocomplete: 'off', spellcheck: 'false' });
    const number = (value) => h('input', { type: 'number', min: 0, value: String(value) });
    const maxMessages = number(rule?.batch.maxMessages ?? 100);
    const maxWaitMs = number(rule?.batch.maxWaitMs ?? 1000);
    const maxAttempts = number(rule?.retry.maxAttempts ?? 10);
    const webhookFields = h('div', null, field('URL', url, 'https://…, or http:// to localhost / 127.0.0.1'), field('Format', format), field('Secret (HMAC key)', secret, 'write-only: never shown again'), field('Extra headers', headers, rule ? 'one "Header: value" per line; "Header:" alone keeps its stored value (values are never shown)' : 'one "Header: value" per line; values are never shown again'));
    const queueFields = h('div', null, field('Queue binding', binding, 'a [[queues.producers]] binding of this Worker'));
    const showType = () => {
      webhookFields.hidden = type.value !== 'webhook';
      queueFields.hidden = type.value !== 'queue';
    };
    type.addEventListener('change', showType);
    showType();
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'card', 'aria-label': rule ? `Edit rule ${rule.name}` : 'Create rule', novalidate: true },
      h('h2', null, rule ? `Edit rule “${rule.name}”` : 'New rule'),
      field('Name', name, 'a-z, 0-9, _ and -'),
      field('Topic filter', filter, 'e.g. plant/+/temp'),
      h('label', { class: 'check' }, enabled, 'Enabled'),
      field('Destination', type),
      webhookFields,
      queueFields,
      field('Max messages per batch', maxMessages),
      field('Max wait (ms)', maxWaitMs),
      field('Max attempts', maxAttempts),
      error,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: closeEditor }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, rule ? 'Save rule' : 'Create rule')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const parsedHeaders = [];
      for (const line of headers.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const colon = line.indexOf(':');
        if (colon < 1) return void (error.textContent = `Header line “${line}” is not "Header: value".`);
        const value = line.slice(colon + 1).trim();
        parsedHeaders.push(value === '' ? { name: line.slice(0, colon).trim() } : { name: line.slice(0, colon).trim(), value });
      }
      const destination =
        type.value === 'webhook'
          ? { type: 'webhook', url: url.value.trim(), format: format.value, ...(secret.value ? { secret: secret.value } : {}), ...(parsedHeaders.length ? { headers: parsedHeaders } : {}) }
          : { type: 'queue', binding: binding.value.trim() };
      const body = {
        ...(rule ? {} : { name: name.value.trim() }),
        filter: filter.value.trim(),
        enabled: enabled.checked,
        destination,
        batch: { ...(rule?.batch ?? {}), maxMessages: Number(maxMessages.value), maxWaitMs: Number(maxWaitMs.value) },
        retry: { ...(rule?.retry ?? {}), maxAttempts: Number(maxAttempts.value) },
      };
      let answer;
      try {
        answer = rule ? await call('PUT', `/${encodeURIComponent(rule.name)}`, body) : await call('POST', '', body);
      } catch (failure) {
        if (failure.status === 401) return void ctx.run(() => Promise.reject(failure), 'Save rule').catch(() => {});
        error.textContent = failure.message;
        return;
      }
      closeEditor();
      notify(rule ? `Saved rule “${rule.name}”.` : `Created rule “${answer.rule.name}”.`);
      if (answer.secret) showSecret(answer.rule.name, answer.secret);
      await load();
    });
    replace(editorSlot, form);
    (rule ? filter : name).focus();
  }

  function closeEditor() {
    editorSlot.replaceChildren();
    newButton.disabled = false;
  }

  /** A generated secret is only ever in the create answer: show it once, with Copy. */
  function showSecret(name, secret) {
    const output = h('output', { class: 'secret', 'data-testid': 'rule-secret', 'aria-label': 'Webhook secret' }, secret);
    const copy = h('button', { type: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      copy.textContent = (await copyText(secret, output)) ? 'Copied' : 'Select and copy';
    });
    replace(
      reveal,
      h(
        'div',
        { class: 'card reveal', role: 'region', 'aria-label': 'Webhook secret' },
        h('h2', null, 'Secret of rule “', name, '”'),
        h('p', null, 'Copy it now: it is shown only this once. Verify X-Edge-Mqtt-Signature with it (HMAC-SHA256 of timestamp + "." + body).'),
        output,
        h('div', { class: 'actions' }, copy, h('button', { type: 'button', onclick: () => reveal.replaceChildren() }, 'Done')),
      ),
    );
  }

  return { el, show: () => refresh.start(), hide: () => refresh.stop(), dispose: () => refresh.stop() };
}
