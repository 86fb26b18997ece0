// The dashboard shell: sign-in, hash routing between pages, the header's web-client badge, and for the
// deployment admin the tenant switcher.
import { ApiError, adminApi, identify, loadAuth, request, saveAuth, tenantApi } from './api.js';
import { createBridgesPage } from './pages/bridges.js';
import { createClientPage } from './pages/client.js';
import { createEventsPage } from './pages/events.js';
import { createRetainedPage } from './pages/retained.js';
import { createRulesPage } from './pages/rules.js';
import { createSessionsPage } from './pages/sessions.js';
import { createStatsPage } from './pages/stats.js';
import { createTenantsPage, locationLabel } from './pages/tenants.js';
import { createTokensPage } from './pages/tokens.js';
import { notify } from './ui.js';

const PAGES = { tokens: createTokensPage, sessions: createSessionsPage, retained: createRetainedPage, stats: createStatsPage, client: createClientPage, events: createEventsPage, bridges: createBridgesPage, rules: createRulesPage };
const TITLES = { tokens: 'Tokens & ACLs', sessions: 'Sessions', retained: 'Retained', stats: 'Statistics', client: 'MQTT client', events: 'Events', bridges: 'Bridges', rules: 'Rules' };
/** The deployment admin's pages: they need no tenant chosen. */
const ADMIN_PAGES = { tenants: createTenantsPage };
const ADMIN_TITLES = { tenants: 'Tenants' };

const $ = (id) => document.getElementById(id);

/** Pages of the signed-in identity, built on first visit and kept (so the web client survives navigation). */
let built = {};
let current;
let context;

function signedIn(auth) {
  const api = auth.tenant ? tenantApi(auth) : undefined;
  context = {
    auth,
    api,
    /** The deployment admin's routes; undefined for a master token. */
    admin: auth.kind === 'admin' ? adminApi(auth) : undefined,
    /** The admin moves to another tenant without signing out. */
    switchTenant,
    /** The tenant list changed (a tenant was created): the switcher reloads. */
    tenantsChanged: () => void loadTenantSwitch(),
    /** The signed-in master token's secret was rotated: keep using the new one. */
    replaceToken(token) {
      auth.token = token;
      saveAuth(auth);
    },
    /** Runs an API call, reporting failures; a 401 means the token is no longer good: back to sign-in. */
    async run(action, what) {
      try {
        return await action();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          signOut(`Signed out: ${error.message}`);
          return undefined;
        }
        notify(`${what}: ${error.message}`, 'error');
        throw error;
      }
    },
    navigate: (page) => (location.hash = `#/${page}`),
    page: (name) => pageOf(name),
    clientBadge: (state, text) => {
      const badge = $('client-badge');
      badge.dataset.state = state;
      badge.textContent = text;
    },
  };
  $('who').textContent = auth.kind === 'admin' ? (auth.tenant ? `tenant ${auth.tenant} · admin` : 'admin') : `tenant ${auth.tenant}`;
  for (const id of ['who', 'client-badge', 'sign-out', 'nav']) $(id).hidden = false;
  $('sign-in').hidden = true;
  // The tenant's pages need a tenant; the admin's need the admin.
  for (const link of document.querySelectorAll('#nav a')) link.hidden = ADMIN_PAGES[link.dataset.page] ? auth.kind !== 'admin' : !auth.tenant;
  $('tenant-switch').hidden = auth.kind !== 'admin';
  $('client-badge').hidden = !auth.tenant;
  if (auth.kind === 'admin') void loadTenantSwitch();
  route();
}

/** Fills the header's tenant switcher (admin only) with the tenants, the current one selected. */
async function loadTenantSwitch() {
  const select = $('tenant-switch-select');
  const mine = context;
  let tenants;
  try {
    tenants = await mine.admin.listTenants();
  } catch {
    tenants = [];
  }
  if (context !== mine) return;
  // The header says where the open tenant's data lives (the admin's list knows it).
  const current = tenants.find((t) => t.name === mine.auth.tenant);
  const badge = $('data-location');
  badge.textContent = current ? `Data: ${locationLabel(current.jurisdiction)}` : '';
  badge.hidden = !current;
  const names = tenants.map((t) => t.name);
  if (mine.auth.tenant && !names.includes(mine.auth.tenant)) names.unshift(mine.auth.tenant);
  select.replaceChildren(
    ...(mine.auth.tenant ? [] : [new Option('choose a tenant…', '', true, true)]),
    ...names.map((name) => new Option(name, name, false, name === mine.auth.tenant)),
  );
}

/** Rebuilds the signed-in pages for another tenant (the admin's token stays). */
function switchTenant(name) {
  if (!context || context.auth.kind !== 'admin' || name === context.auth.tenant) return;
  const auth = { ...context.auth, tenant: name };
  tearDown();
  saveAuth(auth);
  // On a page of the tenant, the same page of the other one; from the tenant list, the tenant's first page.
  const page = /^#\/(\w+)/.exec(location.hash)?.[1];
  if (!PAGES[page]) location.replace('#/tokens');
  signedIn(auth);
}

function pageOf(name) {
  if (!built[name]) {
    built[name] = (PAGES[name] ?? ADMIN_PAGES[name])(context);
    $('pages').append(built[name].el);
  }
  return built[name];
}

/** Ends the signed-in pages (a sign-out, or a switch to another tenant). */
function tearDown() {
  current?.hide?.();
  for (const page of Object.values(built)) page.dispose?.();
  built = {};
  current = undefined;
  context = undefined;
  $('pages').replaceChildren();
}

function signOut(message) {
  tearDown();
  saveAuth(undefined);
  for (const id of ['who', 'data-location', 'client-badge', 'sign-out', 'nav', 'tenant-switch']) $(id).hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message ?? '';
  document.title = 'Sign in · edge-mqtt-broker';
  $('sign-in-token').focus();
}

function route() {
  if (!context) return;
  const name = /^#\/(\w+)/.exec(location.hash)?.[1];
  const allowed = (PAGES[name] && context.auth.tenant) || (ADMIN_PAGES[name] && context.auth.kind === 'admin');
  if (!name || !allowed) {
    location.replace(context.auth.tenant ? '#/tokens' : '#/tenants');
    return;
  }
  const page = pageOf(name);
  if (current !== page) {
    current?.hide?.();
    if (current) current.el.hidden = true;
    current = page;
    page.el.hidden = false;
    page.show?.();
  }
  document.title = `${TITLES[name] ?? ADMIN_TITLES[name]} · ${context.auth.tenant ?? 'admin'} · edge-mqtt-broker`;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function submitSignIn(event) {
  event.preventDefault();
  const token = $('sign-in-token').value.trim();
  const tenant = $('sign-in-tenant').value.trim();
  const error = $('sign-in-error');
  if (!token) {
    error.textContent = 'Enter a token.';
    return;
  }
  const auth = identify(token, tenant);
  if (auth.error) {
    error.textContent = auth.error;
    return;
  }
  error.textContent = '';
  const button = event.submitter ?? $('sign-in-form').querySelector('button');
  button.disabled = true;
  try {
    // The admin's token is checked on an admin route, and the tenant asked for must exist (404: no tenant "x").
    if (auth.kind === 'admin' && auth.tenant) await adminApi(auth).getTenant(auth.tenant);
    else if (auth.kind === 'admin') await adminApi(auth).listTenants();
    else await request(auth, 'GET', `/tenants/${encodeURIComponent(auth.tenant)}/tokens`);
    saveAuth(auth);
    $('sign-in-token').value = '';
    signedIn(auth);
  } catch (failure) {
    error.textContent = `Sign-in failed: ${failure.message}`;
  } finally {
    button.disabled = false;
  }
}

$('sign-in-form').addEventListener('submit', submitSignIn);
$('sign-out').addEventListener('click', () => signOut());
$('tenant-switch-select').addEventListener('change', (event) => {
  if (event.target.value) switchTenant(event.target.value);
});
window.addEventListener('hashchange', route);

const stored = loadAuth();
if (stored) signedIn(stored);
else signOut();
