// The operator's console in headless Chromium against the real broker: the admin's tenant list (create,
// limits, switcher, an unknown tenant at sign-in), sessions (search, paging, protocol details, deleting an
// offline session) and tokens (search, last used, secret rotation), at desktop and phone width.
import type { MqttClient } from 'mqtt';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { section, shot, sidewaysOverflow, skipWithoutChromium, startBrokerAndChromium, watchedPage, type PageProblems } from './browser.js';
import type { RunningBroker } from '../integration/broker.js';
import { connectClient, end } from '../integration/clients.js';
import { api, newTenant, newToken, presenceReported, refusedCode } from '../integration/tenants.js';

const ADMIN = 'console-e2e-admin';


let broker: RunningBroker;
let browser: Browser;
let desktop: BrowserContext;
let page: Page;
let alphaMaster: string;
const clients: MqttClient[] = [];
const problems: PageProblems = { pageErrors: [], dialogs: [] };
const { pageErrors } = problems;
const newPage = (context: BrowserContext) => watchedPage(context, problems, 8000);


async function signIn(target: Page, token: string, tenant = ''): Promise<Locator> {
  await target.goto(`${broker.httpUrl}/`);
  const form = section(target, 'Sign in');
  await form.getByLabel('Token', { exact: true }).fill(token);
  await form.getByLabel('Tenant (only with the admin token)').fill(tenant);
  await form.getByRole('button', { name: 'Sign in' }).click();
  return form;
}

async function go(target: Page, link: string, title = link): Promise<Locator> {
  await target.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: link }).click();
  const region = section(target, title);
  await region.waitFor();
  return region;
}

async function noSidewaysScroll(target: Page, what: string): Promise<void> {
  const overflow = await sidewaysOverflow(target);
  expect(overflow, `${what} is wider than the screen`).toBeLessThanOrEqual(0);
}

describe.skipIf(skipWithoutChromium)('operator console in headless Chromium', () => {
  beforeAll(async () => {
    ({ broker, browser } = await startBrokerAndChromium(ADMIN));
    alphaMaster = await newTenant(broker, ADMIN, 'alpha', { maxTokens: 50 });
    desktop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await newPage(desktop);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => end(client, true)));
    await browser?.close();
    await broker?.stop();
  });

  it('the admin token with a tenant that does not exist: an error, no sign-in', async () => {
    const form = await signIn(page, ADMIN, 'nope');
    await form.getByRole('alert').filter({ hasText: 'no tenant "nope"' }).waitFor();
    expect(await page.getByTestId('who').isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot(page, 'desktop-console-unknown-tenant');
  });

  it('the admin token without a tenant lands on Tenants: the list with limits, create (master token once), edit limits', async () => {
    await signIn(page, ADMIN);
    const tenants = section(page, 'Tenants');
    await tenants.waitFor();
    expect(await page.getByTestId('who').textContent()).toBe('admin');
    // Only the admin's page is offered before a tenant is chosen.
    const nav = page.getByRole('navigation', { name: 'Dashboard pages' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Tenants']);
    const alpha = tenants.getByRole('row', { name: 'Tenant alpha' });
    await alpha.waitFor();
    expect(await alpha.getByRole('cell').allTextContents()).toEqual(expect.arrayContaining(['1', '50', 'none']));

    const create = tenants.getByRole('form', { name: 'Create tenant' });
    await create.getByLabel('Tenant name').fill('Bad Name');
    await create.getByRole('button', { name: 'Create tenant' }).click();
    await create.getByRole('alert').filter({ hasText: 'A tenant name is' }).waitFor();
    await create.getByLabel('Tenant name').fill('beta');
    await create.getByLabel('Max tokens').fill('5');
    await create.getByRole('button', { name: 'Create tenant' }).click();
    const shown = tenants.getByRole('region', { name: 'New tenant' });
    const betaMaster = (await shown.getByTestId('master-token').textContent()) ?? '';
    expect(betaMaster).toMatch(/^beta\.[a-z0-9]{12}\.[A-Za-z0-9_-]{43}$/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByRole('button', { name: /Copied|Select and copy/ }).waitFor();
    expect((await api(broker, 'GET', '/tenants/beta/tokens', betaMaster)).status).toBe(200);
    const beta = tenants.getByRole('row', { name: 'Tenant beta' });
    await beta.waitFor();
    await shot(page, 'desktop-console-tenant-created');

    // Creating it again: the API's 409 is shown.
    await create.getByLabel('Tenant name').fill('beta');
    await create.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('alert').filter({ hasText: 'tenant "beta" already exists' }).waitFor();

    await beta.getByRole('button', { name: 'Edit limits of beta' }).click();
    const limits = tenants.getByRole('form', { name: 'Limits of beta' });
    expect(await limits.getByLabel('Max tokens').inputValue()).toBe('5');
    await limits.getByLabel('Max sessions').fill('0');
    await limits.getByRole('button', { name: 'Save limits' }).click();
    await limits.getByRole('alert').filter({ hasText: 'Max sessions must be a whole number' }).waitFor();
    await limits.getByLabel('Max sessions').fill('7');
    await limits.getByLabel('Max tokens').fill('');
    await limits.getByRole('button', { name: 'Save limits' }).click();
    await limits.waitFor({ state: 'detached' });
    expect((await api(broker, 'GET', '/tenants/beta', ADMIN)).json.limits).toEqual({ maxSessions: 7 });
    await beta.getByRole('cell').filter({ hasText: /^7$/ }).waitFor();
    expect(await beta.getByTestId('tenant-location').textContent()).toBe('Global');

    // A tenant in the EU: chosen at creation, shown in the answer, the list and the API.
    await create.getByLabel('Tenant name').fill('gamma');
    await create.getByLabel('Data location').selectOption({ label: 'EU' });
    await create.getByRole('button', { name: 'Create tenant' }).click();
    await shown.getByTestId('created-location').filter({ hasText: 'EU' }).waitFor();
    await tenants.getByRole('row', { name: 'Tenant gamma' }).getByTestId('tenant-location').filter({ hasText: /^EU$/ }).waitFor();
    expect((await api(broker, 'GET', '/tenants/gamma', ADMIN)).json.jurisdiction).toBe('eu');
    expect(await create.getByLabel('Data location').inputValue()).toBe('');
    await shot(page, 'desktop-console-tenants');
  });

  it('the header switcher moves between tenants without signing out', async () => {
    const switcher = page.getByLabel('Switch tenant');
    await switcher.locator('option', { hasText: 'beta' }).waitFor({ state: 'attached' });
    await switcher.selectOption('beta');
    const tokens = section(page, 'Tokens & ACLs');
    await tokens.waitFor();
    expect(await page.getByTestId('who').textContent()).toBe('tenant beta · admin');
    await page.getByTestId('data-location').filter({ hasText: 'Data: Global' }).waitFor();
    await tokens.getByRole('listitem', { name: 'Token master' }).waitFor();
    expect(await tokens.getByTestId('token-row').count()).toBe(1);

    await page.getByLabel('Switch tenant').selectOption('alpha');
    await page.getByTestId('who').filter({ hasText: 'tenant alpha · admin' }).waitFor();
    await page.getByLabel('Switch tenant').selectOption('gamma');
    await page.getByTestId('data-location').filter({ hasText: 'Data: EU' }).waitFor();
    await section(page, 'Tokens & ACLs').getByRole('listitem', { name: 'Token master' }).waitFor();
    await page.getByLabel('Switch tenant').selectOption('alpha');
    await page.getByTestId('data-location').filter({ hasText: 'Data: Global' }).waitFor();
    // The same page, now of the other tenant; the admin's Tenants page is still there.
    await section(page, 'Tokens & ACLs').getByRole('listitem', { name: 'Token master' }).waitFor();
    expect(await page.getByLabel('Switch tenant').inputValue()).toBe('alpha');
    const tenants = await go(page, 'Tenants');
    await tenants.getByRole('row', { name: 'Tenant alpha' }).getByText('current').waitFor();
    await shot(page, 'desktop-console-switcher');
    await go(page, 'Tokens & ACLs');
  });

  it('sessions: search by client id, page with Next/Previous, protocol, keepalive and expiry; delete an offline session', async () => {
    // 26 offline persistent sessions (one page is 25), one connected 5.0 client with an expiry.
    for (let n = 1; n <= 26; n++) {
      const device = await connectClient(broker.mqttUrl, { clientId: `dev-${String(n).padStart(2, '0')}`, username: alphaMaster, clean: false, keepalive: 30 });
      if (n === 7) await new Promise<void>((done) => device.subscribe('cmd/dev-07', { qos: 1 }, () => done()));
      await end(device);
    }
    const live = await connectClient(broker.mqttUrl, { clientId: 'gw-<b>live</b>', username: alphaMaster, protocolVersion: 5, keepalive: 45, properties: { sessionExpiryInterval: 3600 } });
    clients.push(live);
    await presenceReported(broker, 'alpha', 'gw-<b>live</b>');

    const sessions = await go(page, 'Sessions');
    const rows = sessions.getByTestId('session-row');
    await rows.first().waitFor();
    const search = sessions.getByLabel('Search client ids');
    await search.fill('dev-');
    await sessions.getByTestId('sessions-summary').filter({ hasText: 'Matching “dev-”' }).waitFor();
    await expect.poll(() => rows.count()).toBe(25);
    await sessions.getByRole('button', { name: 'Next' }).click();
    await sessions.getByTestId('sessions-page').filter({ hasText: 'Page 2' }).waitFor();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await sessions.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await sessions.getByRole('button', { name: 'Previous' }).click();
    await sessions.getByTestId('sessions-page').filter({ hasText: 'Page 1' }).waitFor();
    await expect.poll(() => rows.count()).toBe(25);

    await search.fill('live');
    const gateway = sessions.getByRole('row', { name: 'Session gw-<b>live</b>' });
    await gateway.waitFor();
    expect(await rows.count()).toBe(1);
    expect(await gateway.getByTestId('protocol').textContent()).toBe('5.0');
    expect(await gateway.getByTestId('keepalive').textContent()).toBe('45 s');
    expect(await gateway.getByTestId('expiry').textContent()).toBe('1 h');
    expect(await gateway.getByTestId('session-state').textContent()).toBe('connected');
    expect(await gateway.getByRole('button', { name: 'Delete session gw-<b>live</b>' }).isDisabled()).toBe(true);
    expect(await sessions.locator('b').count()).toBe(0);

    await search.fill('dev-07');
    const offline = sessions.getByRole('row', { name: 'Session dev-07' });
    await offline.getByRole('list', { name: 'Subscriptions of dev-07' }).filter({ hasText: 'cmd/dev-07' }).waitFor();
    expect(await offline.getByTestId('protocol').textContent()).toBe('3.1.1');
    expect(await offline.getByTestId('keepalive').textContent()).toBe('30 s');
    expect(await offline.getByTestId('expiry').textContent()).toBe('never expires');
    expect(await offline.getByTestId('session-state').textContent()).toBe('offline');
    await shot(page, 'desktop-console-sessions');
    await offline.getByRole('button', { name: 'Delete session dev-07' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Delete session' }).click();
    await sessions.getByText('No client id contains “dev-07”.').waitFor();
    expect((await api(broker, 'DELETE', '/tenants/alpha/sessions/dev-07/state', alphaMaster)).status).toBe(404);

    // Without a search, the whole first page again.
    await search.fill('');
    await expect.poll(() => rows.count()).toBe(25);
    await shot(page, 'desktop-console-sessions-all');
  });

  it('tokens: search by name or id, last used, rotate a secret (shown once; the old one refused)', async () => {
    const sensor = await newToken(broker, 'alpha', alphaMaster, { name: 'Sensor <i>north</i>', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    await newToken(broker, 'alpha', alphaMaster, { name: 'gateway', acl: [] });
    const device = await connectClient(broker.mqttUrl, { clientId: 'sensor-north', username: sensor.token });
    clients.push(device);

    await go(page, 'Sessions');
    const tokens = await go(page, 'Tokens & ACLs');
    const search = tokens.getByLabel('Search tokens');
    await tokens.getByRole('listitem', { name: 'Token gateway' }).waitFor();
    await search.fill('SENSOR');
    await tokens.getByTestId('tokens-summary').filter({ hasText: '1 of 3 tokens match' }).waitFor();
    const card = tokens.getByRole('listitem', { name: 'Token Sensor <i>north</i>' });
    await card.getByTestId('last-used').filter({ hasText: 'just now' }).waitFor();
    await search.fill(sensor.id.slice(3, 10));
    await card.waitFor();
    expect(await tokens.getByTestId('token-row').count()).toBe(1);
    await search.fill('gateway');
    await tokens.getByRole('listitem', { name: 'Token gateway' }).getByTestId('last-used').filter({ hasText: 'never' }).waitFor();
    await search.fill('sensor');
    await shot(page, 'desktop-console-tokens');

    await card.getByRole('button', { name: 'Rotate the secret of Sensor <i>north</i>' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    const shown = tokens.getByRole('region', { name: 'New token' });
    const fresh = (await shown.getByTestId('new-token').textContent()) ?? '';
    expect(fresh).toMatch(new RegExp(`^alpha\\.${sensor.id}\\.`));
    expect(fresh).not.toBe(sensor.token);
    await shown.getByText('The old secret no longer works').waitFor();
    await shot(page, 'desktop-console-token-rotated');
    expect(await refusedCode(broker.mqttUrl, { clientId: 'sensor-old', username: sensor.token, protocolVersion: 5 })).toBe(0x86);
    const renewed = await connectClient(broker.mqttUrl, { clientId: 'sensor-new', username: fresh });
    await end(renewed);
    // The connection made with the old secret keeps running.
    expect(device.connected).toBe(true);
    expect(await tokens.locator('i').count()).toBe(0);
  });

  it('tenants, sessions and tokens at phone width (390) without sideways scrolling', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const small = await newPage(phone);
    const form = await signIn(small, ADMIN, 'nope');
    await form.getByRole('alert').filter({ hasText: 'no tenant "nope"' }).waitFor();
    await shot(small, 'phone-console-unknown-tenant');
    await signIn(small, ADMIN);
    const tenants = section(small, 'Tenants');
    await tenants.getByRole('row', { name: 'Tenant beta' }).waitFor();
    await noSidewaysScroll(small, 'tenants');
    await shot(small, 'phone-console-tenants');
    await small.getByLabel('Switch tenant').selectOption('alpha');
    await section(small, 'Tokens & ACLs').getByRole('listitem', { name: 'Token master' }).waitFor();
    await noSidewaysScroll(small, 'tokens');
    await shot(small, 'phone-console-tokens');
    await small.goto(`${broker.httpUrl}/#/sessions`);
    const sessions = section(small, 'Sessions');
    await sessions.getByTestId('session-row').first().waitFor();
    await noSidewaysScroll(small, 'sessions');
    await shot(small, 'phone-console-sessions');
    await phone.close();
  });

  it('no script errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
