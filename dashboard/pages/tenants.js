// Tenants (deployment admin only): the tenant list with data location, limits and token counts, create a
// tenant in a data location (its master token shown once), change a tenant's limits, and open a tenant (the
// header's switcher does the same).
import { field, formatTime, h, replace } from '../dom.js';
import { copyText, empty, notify } from '../ui.js';

const LIMITS = [
  ['maxTokens', 'Max tokens'],
  ['maxSessions', 'Max sessions'],
  ['maxRetained', 'Max retained'],
];

/** Data locations a tenant may be created in: '' = global, else a Durable Object jurisdiction. */
const LOCATIONS = [
  ['', 'Global'],
  ['eu', 'EU'],
  ['fedramp', 'FedRAMP'],
  ['fedramp-high', 'FedRAMP High'],
];

/** How a tenant's data location (null = global) is shown. */
export function locationLabel(jurisdiction) {
  return LOCATIONS.find(([value]) => value === (jurisdiction ?? ''))?.[1] ?? String(jurisdiction);
}

export function createTenantsPage(ctx) {
  const reveal = h('div');
  const editor = h('div');
  const body = h('tbody');
  const summary = h('p', { class: 'muted', 'data-testid': 'tenants-summary' }, 'Loading…');
  const table = h(
    'table',
    { class: 'data', 'aria-label': 'Tenants list' },
    h('thead', null, h('tr', null, ['Tenant', 'Data location', 'Created', 'Tokens', ...LIMITS.map(([, label]) => label), 'Actions'].map((title) => h('th', { scope: 'col' }, title)))),
    body,
  );
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'tenants-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'tenants-title' }, 'Tenants'), h('button', { type: 'button', onclick: () => void load() }, 'Refresh')),
    creator(),
    reveal,
    editor,
    summary,
    table,
  );

  /** Create a tenant: name and optional limits; the master token is answered once. */
  function creator() {
    const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'acme', maxlength: 32 });
    const location = h(
      'select',
      null,
      LOCATIONS.map(([value, label]) => h('option', { value }, label)),
    );
    const limits = limitInputs({});
    const problem = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'card', 'aria-label': 'Create tenant', novalidate: true },
      h('h2', null, 'New tenant'),
      h(
        'div',
        { class: 'grid' },
        field('Tenant name', name, 'a–z, 0–9 and -, 1–32 characters'),
        field('Data location', location, 'where all its sessions, messages and tokens are stored; fixed once created'),
        limits.fields,
      ),
      problem,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create tenant')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      problem.textContent = '';
      const tenant = name.value.trim();
      if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(tenant)) {
        problem.textContent = 'A tenant name is 1–32 characters of a–z, 0–9 and -, starting with a letter or digit.';
        return name.focus();
      }
      const values = limits.read(problem);
      if (!values) return;
      const created = await ctx.run(() => ctx.admin.createTenant(tenant, values, location.value), 'Create tenant').catch(() => undefined);
      if (!created) return;
      name.value = '';
      location.value = '';
      limits.clear();
      showMasterToken(created.tenant, created.masterToken, created.jurisdiction);
      ctx.tenantsChanged();
      await load();
    });
    return form;
  }

  /** The master token is only ever in the create answer: shown once, with Copy. */
  function showMasterToken(tenant, token, jurisdiction) {
    const output = h('output', { class: 'secret', 'data-testid': 'master-token', 'aria-label': 'Master token value' }, token);
    const copy = h('button', { type: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      copy.textContent = (await copyText(token, output)) ? 'Copied' : 'Select and copy';
    });
    const region = h(
      'div',
      { class: 'card reveal', role: 'region', 'aria-label': 'New tenant' },
      h('h2', null, 'Tenant “', tenant, '” created'),
      h('p', null, 'Data location: ', h('strong', { 'data-testid': 'created-location' }, locationLabel(jurisdiction)), '.'),
      h('p', null, 'Its master token administers the tenant (and has full MQTT access). Copy it now: it is shown only this once.'),
      output,
      h(
        'div',
        { class: 'actions' },
        copy,
        h('button', { type: 'button', onclick: () => ctx.switchTenant(tenant) }, `Open ${tenant}`),
        h('button', { type: 'button', onclick: () => reveal.replaceChildren() }, 'Done'),
      ),
    );
    replace(reveal, region);
    region.scrollIntoView({ block: 'nearest' });
  }

  function editLimits(tenant) {
    const limits = limitInputs(tenant.limits ?? {});
    const problem = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'card', 'aria-label': `Limits of ${tenant.name}`, novalidate: true },
      h('h2', null, 'Limits of “', tenant.name, '”'),
      h('p', { class: 'hint' }, 'Empty = no limit. Sessions count connected and offline ones; retained topics are shared out over the shards.'),
      h('div', { class: 'grid' }, limits.fields),
      problem,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => editor.replaceChildren() }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Save limits')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      problem.textContent = '';
      const values = limits.read(problem);
      if (!values) return;
      const saved = await ctx.run(() => ctx.admin.updateLimits(tenant.name, values), 'Save limits').catch(() => undefined);
      if (!saved) return;
      editor.replaceChildren();
      notify(`Saved the limits of ${tenant.name}.`);
      await load();
    });
    replace(editor, form);
    form.querySelector('input')?.focus();
  }

  function row(tenant) {
    const current = tenant.name === ctx.auth.tenant;
    const cell = (label, ...content) => h('td', { 'data-label': label }, h('div', null, ...content));
    return h(
      'tr',
      { 'aria-label': `Tenant ${tenant.name}`, 'data-testid': 'tenant-row', class: current ? 'current' : undefined },
      h('th', { scope: 'row', 'data-label': 'Tenant' }, h('div', null, h('span', { class: 'mono' }, tenant.name), current ? [' ', h('span', { class: 'badge ok' }, 'current')] : null)),
      cell('Data location', h('span', { class: 'badge', 'data-testid': 'tenant-location' }, locationLabel(tenant.jurisdiction))),
      cell('Created', formatTime(tenant.createdAt)),
      cell('Tokens', String(tenant.tokens)),
      LIMITS.map(([key, label]) => cell(label, tenant.limits?.[key] === undefined ? 'none' : String(tenant.limits[key]))),
      cell(
        'Actions',
        h(
          'div',
          { class: 'row-actions' },
          h('button', { type: 'button', onclick: () => ctx.switchTenant(tenant.name), disabled: current, 'aria-label': `Open ${tenant.name}` }, 'Open'),
          h('button', { type: 'button', onclick: () => editLimits(tenant), 'aria-label': `Edit limits of ${tenant.name}` }, 'Limits'),
        ),
      ),
    );
  }

  async function load() {
    const tenants = await ctx.run(() => ctx.admin.listTenants(), 'Load tenants').catch(() => undefined);
    if (!tenants) return;
    replace(summary, tenants.length === 1 ? '1 tenant' : `${tenants.length} tenants`);
    replace(body, tenants.length ? tenants.map(row) : h('tr', null, h('td', { colspan: 4 + LIMITS.length + 1 }, empty('No tenants yet: create one above.'))));
  }

  return {
    el,
    show: load,
    // The master token is shown once: leaving the page forgets it.
    hide: () => reveal.replaceChildren(),
  };
}

/** Number inputs for the tenant limits; read() answers the limits set (empty = none) or undefined after saying why. */
function limitInputs(limits) {
  const inputs = Object.fromEntries(
    LIMITS.map(([key]) => [key, h('input', { type: 'number', min: 1, step: 1, inputmode: 'numeric', value: limits[key] ?? '', placeholder: 'none' })]),
  );
  return {
    fields: LIMITS.map(([key, label]) => field(label, inputs[key])),
    read(problem) {
      const values = {};
      for (const [key, label] of LIMITS) {
        const raw = inputs[key].value.trim();
        if (raw === '') continue;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 1) {
          problem.textContent = `${label} must be a whole number of at least 1.`;
          inputs[key].focus();
          return undefined;
        }
        values[key] = n;
      }
      return values;
    },
    clear() {
      for (const input of Object.values(inputs)) input.value = '';
    },
  };
}
