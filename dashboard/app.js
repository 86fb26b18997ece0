// The dashboard shell: sign-in, hash routing between pages, the header's web-client badge.
import { ApiError, identify, loadAuth, request, saveAuth, tenantApi } from './api.js';
import { createClientPage } from './pages/client.js';
import { createRetainedPage } from './pages/retained.js';
import { createSessionsPage } from './pages/sessions.js';
import { createStatsPage } from './pages/stats.js';
import { createTokensPage } from './pages/tokens.js';
import { notify } from './ui.js';

const PAGES = { tokens: createTokensPage, sessions: createSessionsPage, retained: createRetainedPage, stats: createStatsPage, client: createClientPage };
const TITLES = { tokens: 'Tokens & ACLs', sessions: 'Sessions', retained: 'Retained', stats: 'Statistics', client: 'MQTT client' };

const $ = (id) => document.getElementById(id);

/** Pages of the signed-in identity, built on first visit and kept (so the web client survives navigation). */
let built = {};
let current;
let context;

function signedIn(auth) {
  const api = tenantApi(auth);
  context = {
    auth,
    api,
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
  $('who').textContent = auth.kind === 'admin' ? `tenant ${auth.tenant} · admin` : `tenant ${auth.tenant}`;
  for (const id of ['who', 'client-badge', 'sign-out', 'nav']) $(id).hidden = false;
  $('sign-in').hidden = true;
  route();
}

function pageOf(name) {
  if (!built[name]) {
    built[name] = PAGES[name](context);
    $('pages').append(built[name].el);
  }
  return built[name];
}

function signOut(message) {
  current?.hide?.();
  for (const page of Object.values(built)) page.dispose?.();
  built = {};
  current = undefined;
  context = undefined;
  $('pages').replaceChildren();
  saveAuth(undefined);
  for (const id of ['who', 'client-badge', 'sign-out', 'nav']) $(id).hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message ?? '';
  document.title = 'Sign in · edge-mqtt-broker';
  $('sign-in-token').focus();
}

function route() {
  if (!context) return;
  const name = /^#\/(\w+)/.exec(location.hash)?.[1];
  if (!name || !PAGES[name]) {
    location.replace('#/tokens');
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
  document.title = `${TITLES[name]} · ${context.auth.tenant} · edge-mqtt-broker`;
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
    await request(auth, 'GET', `/tenants/${encodeURIComponent(auth.tenant)}/tokens`);
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
window.addEventListener('hashchange', route);

const stored = loadAuth();
if (stored) signedIn(stored);
else signOut();
