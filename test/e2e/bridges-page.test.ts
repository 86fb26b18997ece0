// The Bridges page in a real headless Chromium against the real broker and a real aedes: create a bridge
// through the form (its password write-only), watch its status reach "connected" and its counters move as a
// message crosses, edit it without retyping the password, delete it.
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { section, shot, signIn, skipWithoutChromium, startBrokerAndChromium, watchedPage, type PageProblems } from './browser.js';
import type { RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish, recorder, subscribe } from '../integration/clients.js';
import { startAedes, type AedesBroker } from '../integration/remote-brokers.js';
import { api, newTenant } from '../integration/tenants.js';

const ADMIN = 'e2e-bridges-admin';
const TENANT = 'bridging';
const PASSWORD = 'pa55-<b>word</b>';
/** The page refreshes the status every 3 s. */
const STATUS_TIMEOUT = 10_000;

let broker: RunningBroker;
let browser: Browser;
let aedes: AedesBroker;
let page: Page;
let master: string;
const problems: PageProblems = { pageErrors: [], dialogs: [] };

describe.skipIf(skipWithoutChromium)('Bridges page in headless Chromium', () => {
  beforeAll(async () => {
    [{ broker, browser }, aedes] = await Promise.all([
      startBrokerAndChromium(ADMIN),
      startAedes({ authenticate: (_client, username, password, done) => done(null, username === 'edge' && password?.toString() === PASSWORD) }),
    ]);
    master = await newTenant(broker, ADMIN, TENANT);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await watchedPage(context, problems, 8000);
    await signIn(page, broker.httpUrl, master);
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
    await aedes?.close();
  });

  it('creates a bridge, shows it connected, counts a message across it, and never shows the password', async () => {
    await page.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: 'Bridges', exact: true }).click();
    const bridges = section(page, 'Bridges');
    await bridges.waitFor();
    await bridges.getByText('No bridges yet').waitFor();
    await bridges.getByRole('button', { name: 'New bridge' }).click();
    const form = bridges.getByRole('form', { name: 'Create bridge' });
    await form.getByLabel(/^Name/).fill('to-aedes');
    await form.getByLabel(/^Remote URL/).fill(aedes.url);
    await form.getByLabel('Protocol').selectOption('4');
    await form.getByLabel('Username').fill('edge');
    await form.getByLabel(/^Password/).fill(PASSWORD);
    await form.getByLabel('Topic pattern').fill('e2e/#');
    await form.getByLabel('Direction').selectOption('out');
    await form.getByLabel('Remote prefix').fill('from-edge/');
    await form.getByRole('button', { name: 'Create bridge' }).click();

    const card = bridges.getByRole('listitem', { name: 'Bridge to-aedes' });
    await card.getByTestId('bridge-state').filter({ hasText: 'connected' }).waitFor({ timeout: STATUS_TIMEOUT });
    expect(await card.textContent()).toContain('password set');
    expect(await card.textContent()).toContain('out e2e/# → from-edge/e2e/# (QoS 1)');

    const far = await connectClient(aedes.url, { username: 'edge', password: PASSWORD });
    const got = recorder(far);
    await subscribe(far, 'from-edge/#', 1);
    const device = await connectClient(broker.mqttUrl, { username: master });
    await publish(device, 'e2e/hello', 'hi', { qos: 1 });
    await got.waitFor(1);
    await card.getByTestId('bridge-counters').filter({ hasText: '0 in · 1 out' }).waitFor({ timeout: STATUS_TIMEOUT });
    await shot(page, 'desktop-bridges');
    await Promise.all([end(device), end(far)]);

    // Nowhere in the page, nor in what the API answers it.
    expect(await page.content()).not.toContain('pa55');
    expect(JSON.stringify((await api(broker, 'GET', `/tenants/${TENANT}/bridges`, master)).json)).not.toContain('pa55');
  });

  it('edits the bridge without retyping the password (it is kept), then deletes it after a confirmation', async () => {
    const bridges = section(page, 'Bridges');
    const card = bridges.getByRole('listitem', { name: 'Bridge to-aedes' });
    await card.getByRole('button', { name: 'Edit bridge to-aedes' }).click();
    const form = bridges.getByRole('form', { name: 'Edit bridge to-aedes' });
    expect(await form.getByLabel(/^Password/).inputValue()).toBe('');
    expect(await form.getByLabel(/^Password/).getAttribute('placeholder')).toContain('a password is set');
    await form.getByLabel('Keepalive (s)').fill('30');
    await form.getByRole('button', { name: 'Save bridge' }).click();
    await form.waitFor({ state: 'detached' });
    // Reconnected with the stored password: aedes would refuse any other.
    await card.getByTestId('bridge-state').filter({ hasText: 'connected' }).waitFor({ timeout: STATUS_TIMEOUT });
    expect((await api(broker, 'GET', `/tenants/${TENANT}/bridges/to-aedes`, master)).json).toMatchObject({ keepAlive: 30, passwordSet: true });

    await card.getByRole('button', { name: 'Delete bridge to-aedes' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete bridge' }).click();
    await bridges.getByText('No bridges yet').waitFor();
    expect((await api(broker, 'GET', `/tenants/${TENANT}/bridges/to-aedes`, master)).status).toBe(404);
    expect(problems).toEqual({ pageErrors: [], dialogs: [] });
  });
});
