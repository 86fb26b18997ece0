// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against
// the real Worker and Durable Objects in workerd, which serve dashboard/ as static assets.
import type { MqttClient } from 'mqtt';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { section, shot, signIn, sidewaysOverflow, skipWithoutChromium, startBrokerAndChromium, watchedPage, type PageProblems } from './browser.js';
import type { RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish, subscribe } from '../integration/clients.js';

const ADMIN = 'e2e-admin';
const PAGES = [
  ['tokens', 'Tokens & ACLs'],
  ['sessions', 'Sessions'],
  ['retained', 'Retained messages'],
  ['stats', 'Statistics'],
  ['client', 'MQTT client'],
  ['bridges', 'Bridges'],
  ['rules', 'Rules'],
] as const;


let broker: RunningBroker;
let browser: Browser;
let desktop: BrowserContext;
let page: Page;
let master: string;
/** The token created in the UI, read from the page. */
let webToken = '';
const problems: PageProblems = { pageErrors: [], dialogs: [] };
const { pageErrors, dialogs } = problems;
const newPage = (context: BrowserContext) => watchedPage(context, problems);

async function api(method: string, path: string, bearer: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${broker.httpUrl}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}


async function go(target: Page, name: string, title: string): Promise<Locator> {
  await target.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: title === 'Retained messages' ? 'Retained' : title }).click();
  const region = section(target, title);
  await region.waitFor();
  expect(target.url()).toContain(`#/${name}`);
  return region;
}

describe.skipIf(skipWithoutChromium)('dashboard in headless Chromium', () => {
  beforeAll(async () => {
    ({ broker, browser } = await startBrokerAndChromium(ADMIN));
    const tenant = await api('POST', '/tenants', ADMIN, { name: 'e2e' });
    expect(tenant.status).toBe(201);
    master = tenant.json.masterToken;
    desktop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await newPage(desktop);
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
  });

  it('serves the dashboard as static assets and signs in with a master token', async () => {
    const index = await fetch(`${broker.httpUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    const module = await fetch(`${broker.httpUrl}/mqtt-client.js`);
    expect(module.headers.get('content-type')).toMatch(/javascript/);

    await page.goto(`${broker.httpUrl}/`);
    const form = section(page, 'Sign in');
    await form.getByLabel('Token', { exact: true }).fill('e2e.aaaaaaaaaaaa.wrongwrongwrongwrongwrongwrongwrong');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await form.getByRole('alert').filter({ hasText: /Sign-in failed/ }).waitFor();
    await shot(page, 'desktop-sign-in');

    await signIn(page, broker.httpUrl, master);
    expect(await page.getByTestId('who').textContent()).toBe('tenant e2e');
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    await section(page, 'Tokens & ACLs').getByRole('listitem', { name: 'Token master' }).waitFor();
  });

  it('creates a token with an ACL in the UI and shows its secret once, with Copy', async () => {
    const tokens = section(page, 'Tokens & ACLs');
    await tokens.getByRole('button', { name: 'New token' }).click();
    const form = tokens.getByRole('form', { name: 'Create token' });
    await form.getByLabel('Name').fill('web <i>client</i>');
    await form.getByLabel('ACL entry 1 topic filter').fill('demo/#');
    await form.getByLabel('ACL entry 1 publish').check();
    await form.getByLabel('ACL entry 1 subscribe').check();
    // A second row, added and removed again: the editor renumbers.
    await form.getByRole('button', { name: 'Add ACL entry' }).click();
    await form.getByLabel('ACL entry 2 topic filter').fill('other/+');
    await form.getByLabel('ACL entry 2 publish').uncheck();
    await form.getByRole('button', { name: 'Remove ACL entry 2' }).click();
    expect(await form.getByLabel('ACL entry 2 topic filter').count()).toBe(0);
    await form.getByLabel('Max subscriptions').fill('10');
    await shot(page, 'desktop-token-form');
    await form.getByRole('button', { name: 'Create token' }).click();

    const shown = tokens.getByRole('region', { name: 'New token' });
    webToken = (await shown.getByTestId('new-token').textContent()) ?? '';
    expect(webToken).toMatch(/^e2e\.[a-z0-9]{12}\.[A-Za-z0-9_-]{32,64}$/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByRole('button', { name: /Copied|Select and copy/ }).waitFor();

    // The name is shown as text, the ACL as listed, and the API agrees.
    const card = tokens.getByRole('listitem', { name: 'Token web <i>client</i>' });
    await card.waitFor();
    expect(await card.getByRole('heading').first().textContent()).toBe('web <i>client</i>');
    expect(await tokens.locator('h3 i').count()).toBe(0);
    expect(await card.getByRole('list', { name: /^ACL of/ }).textContent()).toContain('demo/#');
    const listed = await api('GET', '/tenants/e2e/tokens', master);
    const info = listed.json.tokens.find((t: { name: string }) => t.name === 'web <i>client</i>');
    expect(info).toMatchObject({ acl: [{ filter: 'demo/#', rights: ['pub', 'sub'] }], limits: { maxSubscriptions: 10 }, enabled: true, master: false });
    await shot(page, 'desktop-token-created');

    // Edit the ACL (a second, subscribe-only entry), then disable and enable the token again.
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = card.getByRole('form', { name: 'Edit token web <i>client</i>' });
    await edit.getByRole('button', { name: 'Add ACL entry' }).click();
    await edit.getByLabel('ACL entry 2 topic filter').fill('status/+');
    await edit.getByLabel('ACL entry 2 publish').uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    await card.getByRole('list', { name: /^ACL of/ }).filter({ hasText: 'status/+' }).waitFor();
    await card.getByRole('button', { name: 'Disable' }).click();
    await card.getByText('disabled', { exact: true }).waitFor();
    const disabled = (await api('GET', `/tenants/e2e/tokens/${info.id}`, master)).json;
    expect(disabled).toMatchObject({ enabled: false, acl: [{ filter: 'demo/#', rights: ['pub', 'sub'] }, { filter: 'status/+', rights: ['sub'] }] });
    await card.getByRole('button', { name: 'Enable' }).click();
    await card.getByRole('button', { name: 'Disable' }).waitFor();
    expect((await api('GET', `/tenants/e2e/tokens/${info.id}`, master)).json.enabled).toBe(true);
  });

  it('edits allow/deny and the order of ACL entries and client-id patterns, and tests the ACL with the deciding entry shown', async () => {
    const tokens = section(page, 'Tokens & ACLs');
    const evil = 'test/<img src=x onerror=alert(3)>';
    await tokens.getByRole('button', { name: 'New token' }).click();
    const form = tokens.getByRole('form', { name: 'Create token' });
    await form.getByLabel('Name').fill('acl <b>order</b>');
    await form.getByLabel('ACL entry 1 topic filter').fill('#');
    await form.getByRole('button', { name: 'Add ACL entry' }).click();
    await form.getByLabel('ACL entry 2 topic filter').fill(evil);
    await form.getByLabel('ACL entry 2 publish').uncheck();
    await form.getByLabel('ACL entry 2 access').selectOption('deny');
    // Order decides: the deny entry goes first, and the rows renumber.
    await form.getByRole('button', { name: 'Move ACL entry 2 up' }).click();
    expect(await form.getByLabel('ACL entry 1 topic filter').inputValue()).toBe(evil);
    expect(await form.getByLabel('ACL entry 1 access').inputValue()).toBe('deny');
    expect(await form.getByLabel('ACL entry 2 topic filter').inputValue()).toBe('#');
    expect(await form.getByRole('button', { name: 'Move ACL entry 1 up' }).isDisabled()).toBe(true);
    expect(await form.getByRole('button', { name: 'Move ACL entry 2 down' }).isDisabled()).toBe(true);
    await shot(page, 'desktop-acl-order');
    await form.getByRole('button', { name: 'Create token' }).click();
    await tokens.getByRole('region', { name: 'New token' }).getByRole('button', { name: 'Done' }).click();

    const card = tokens.getByRole('listitem', { name: 'Token acl <b>order</b>' });
    const entries = card.getByRole('list', { name: /^ACL of/ }).getByTestId('acl-entry');
    await entries.first().waitFor();
    expect(await entries.allTextContents()).toEqual([`1.deny${evil} sub`, '2.allow# pub + sub']);
    const listed = (await api('GET', '/tenants/e2e/tokens', master)).json.tokens;
    const info = listed.find((t: { name: string }) => t.name === 'acl <b>order</b>');
    // Later tests expect the tenant's tokens as they were: this one goes whatever happens below.
    onTestFinished(async () => void (await api('DELETE', `/tenants/e2e/tokens/${info.id}`, master)));
    expect(info.acl).toEqual([{ filter: evil, rights: ['sub'], access: 'deny' }, { filter: '#', rights: ['pub', 'sub'] }]);

    // Client-id patterns, one per line.
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = card.getByRole('form', { name: 'Edit token acl <b>order</b>' });
    expect(await edit.getByLabel('ACL entry 1 access').inputValue()).toBe('deny');
    await edit.getByLabel('Allowed client ids').fill('sensor-%u-*\n\n  lobby  ');
    await edit.getByRole('button', { name: 'Save' }).click();
    await card.getByTestId('client-ids').filter({ hasText: 'sensor-%u-*' }).waitFor();
    expect((await api('GET', `/tenants/e2e/tokens/${info.id}`, master)).json.clientIds).toEqual(['sensor-%u-*', 'lobby']);

    // Test this ACL: the deny entry decides for the topic, the allow # for the wildcard subscription.
    await card.getByRole('button', { name: 'Test the ACL of acl <b>order</b>' }).click();
    const tester = tokens.getByRole('form', { name: 'Test this ACL' });
    expect(await tester.getByLabel('Token to test').inputValue()).toBe(info.id);
    const result = tester.getByTestId('acl-test-result');
    const check = async (action: string, topic: string, clientId = '') => {
      await tester.getByLabel('Action').selectOption(action);
      await tester.getByLabel('Topic').fill(topic);
      await tester.getByLabel('Client id').fill(clientId);
      await result.evaluate((el: any) => el.replaceChildren());
      await tester.getByRole('button', { name: 'Test', exact: true }).click();
      await result.getByTestId('acl-verdict').waitFor();
      return {
        verdict: await result.getByTestId('acl-verdict').textContent(),
        entry: await result.getByTestId('acl-deciding-entry').textContent(),
        reason: await result.getByTestId('acl-reason').textContent(),
        clientId: (await result.getByTestId('acl-client-id').count()) ? await result.getByTestId('acl-client-id').textContent() : null,
      };
    };
    expect(await check('subscribe', evil)).toEqual({ verdict: 'Denied', entry: 'by entry 1', reason: `denied by deny sub "${evil}"`, clientId: null });
    expect(await check('subscribe', '#')).toMatchObject({ verdict: 'Allowed', entry: 'by entry 2' });
    expect(await check('receive', evil)).toMatchObject({ verdict: 'Denied', entry: 'by entry 1' });
    expect(await check('publish', evil, 'intruder')).toMatchObject({ verdict: 'Allowed', entry: 'by entry 2', clientId: expect.stringContaining('not allowed') });
    expect(await check('publish', 'x', `sensor-${info.id}-7`)).toMatchObject({ clientId: 'This client id is allowed for the token.' });
    await check('publish', '$SYS/x');
    expect(await result.getByTestId('acl-deciding-entry').textContent()).toBe('no entry decided');
    // Filters and names were shown as text.
    expect(await page.locator('img').count()).toBe(0);
    expect(await tokens.locator('h3 b').count()).toBe(0);
    await shot(page, 'desktop-acl-test');
  });

  it('the web client connects with that token, subscribes demo/#, publishes demo/hello and sees it arrive', async () => {
    const board = await go(page, 'client', 'MQTT client');
    await board.getByLabel('Token').fill(webToken);
    await board.getByLabel('Client id').fill('e2e-board');
    await board.getByRole('button', { name: 'Connect', exact: true }).click();
    await board.getByTestId('client-status').filter({ hasText: 'Connected as e2e-board' }).waitFor();
    expect(await page.getByTestId('client-badge').getAttribute('data-state')).toBe('connected');

    const sub = board.getByRole('form', { name: 'Subscribe' });
    await sub.getByLabel('Topic filter').fill('demo/#');
    await sub.getByLabel('QoS').selectOption('1');
    await sub.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await sub.getByTestId('subscription').filter({ hasText: 'QoS 1' }).waitFor();

    const pub = board.getByRole('form', { name: 'Publish' });
    await pub.getByLabel('Topic', { exact: true }).fill('demo/hello');
    await pub.getByLabel('Payload').fill('hello from the browser');
    await pub.getByLabel('QoS').selectOption('1');
    await pub.getByRole('button', { name: 'Publish', exact: true }).click();
    const log = board.getByRole('log', { name: 'Messages' });
    const message = log.getByTestId('message').filter({ hasText: 'demo/hello' });
    await message.waitFor();
    expect(await message.getByTestId('message-payload').textContent()).toBe('hello from the browser');

    // Outside the ACL: the subscription is refused (MQTT 5.0 SUBACK 0x87) and shown as such.
    await sub.getByLabel('Topic filter').fill('secret/#');
    await sub.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await sub.getByTestId('subscription').filter({ hasText: 'refused: 0x87 Not authorized' }).waitFor();

    // A message from an mqtt.js client arrives too.
    const device = await connectClient(broker.mqttUrl, { clientId: 'e2e-device', username: master });
    await publish(device, 'demo/device/1', 'from mqtt.js', { qos: 1 });
    await log.getByTestId('message').filter({ hasText: 'from mqtt.js' }).waitFor();
    await end(device);
    await shot(page, 'desktop-client');
  });

  it('payloads, topics and names are shown as text: <img onerror> creates no element and no dialog', async () => {
    const board = section(page, 'MQTT client');
    const pub = board.getByRole('form', { name: 'Publish' });
    const evil = '<img src=x onerror=alert(1)>';
    await pub.getByLabel('Topic', { exact: true }).fill('demo/<b>bold</b>');
    await pub.getByLabel('Payload').fill(evil);
    await pub.getByRole('button', { name: 'Publish', exact: true }).click();
    const log = board.getByRole('log', { name: 'Messages' });
    const message = log.getByTestId('message').filter({ hasText: evil });
    await message.waitFor();
    expect(await message.getByTestId('message-payload').textContent()).toBe(evil);
    expect(await message.locator('code.topic').textContent()).toBe('demo/<b>bold</b>');
    expect(await page.locator('img').count()).toBe(0);
    expect(await log.locator('b').count()).toBe(0);
    await page.waitForTimeout(200); // an onerror would have fired by now
    expect(dialogs).toEqual([]);
  });

  it('sessions lists clients with subscriptions and queue depth; Kick disconnects one', async () => {
    const device = await connectClient(broker.mqttUrl, { clientId: 'kick-me', username: master });
    await subscribe(device, 'demo/kick', 1);
    const closed = new Promise<number>((done) => {
      const since = Date.now();
      device.once('close', () => done(Date.now() - since));
    });
    const sessions = await go(page, 'sessions', 'Sessions');
    const board = sessions.getByRole('row', { name: 'Session e2e-board' });
    await board.getByRole('list', { name: 'Subscriptions of e2e-board' }).filter({ hasText: 'demo/#' }).waitFor();
    expect(await board.getByTestId('queued').textContent()).toBe('0');
    const kicked = sessions.getByRole('row', { name: 'Session kick-me' });
    await kicked.getByRole('list', { name: 'Subscriptions of kick-me' }).filter({ hasText: 'demo/kick' }).waitFor();
    await shot(page, 'desktop-sessions');
    await kicked.getByRole('button', { name: 'Kick kick-me' }).click();
    expect(await closed).toBeLessThan(3000);
    await end(device as MqttClient, true);
  });

  it('statistics shows the counters and draws the two charts from successive polls', async () => {
    const stats = await go(page, 'stats', 'Statistics');
    await stats.getByTestId('stat-clientsConnected').filter({ hasText: /^\d+$/ }).waitFor();
    expect(Number(await stats.getByTestId('stat-clientsConnected').textContent())).toBeGreaterThanOrEqual(1);
    expect(Number(await stats.getByTestId('stat-messagesReceived').textContent())).toBeGreaterThanOrEqual(3);
    // The rate needs two polls, 2 s apart.
    await stats.getByRole('img', { name: /Messages per second chart: [\d.]+ in, [\d.]+ out/ }).waitFor({ timeout: 6000 });
    // Pixels with ink on each live chart (typed loosely: the tests compile without the DOM lib).
    const painted = await stats.locator('canvas[data-testid^="chart-"]').evaluateAll((canvases: any[]) =>
      canvases.map((canvas) => {
        const data: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) inked++;
        return inked;
      }),
    );
    expect(painted).toHaveLength(2);
    for (const inked of painted) expect(inked).toBeGreaterThan(500);
    await shot(page, 'desktop-stats');
  });

  it('retained messages: browse the topic tree, view a message, delete it', async () => {
    const board = await go(page, 'client', 'MQTT client');
    const pub = board.getByRole('form', { name: 'Publish' });
    await pub.getByLabel('Topic', { exact: true }).fill('demo/sensors/<img src=x onerror=alert(2)>');
    await pub.getByLabel('Payload').fill('{"celsius":21.5}');
    await pub.getByLabel('Retain').check();
    await pub.getByRole('button', { name: 'Publish', exact: true }).click();
    await pub.getByLabel('Topic', { exact: true }).fill('demo/sensors/t2');
    await pub.getByLabel('Payload').fill('plain');
    await pub.getByRole('button', { name: 'Publish', exact: true }).click();
    await pub.getByLabel('Retain').uncheck();
    await board.getByRole('log', { name: 'Messages' }).getByTestId('message').filter({ hasText: 'plain' }).waitFor();
    const device = await connectClient(broker.mqttUrl, { clientId: 'e2e-binary', username: master });
    await publish(device, 'demo/binary', Buffer.from([0xff, 0x00, 0x01]), { qos: 1, retain: true });
    await end(device);

    const retained = await go(page, 'retained', 'Retained messages');
    await retained.getByTestId('retained-summary').filter({ hasText: 'matching' }).waitFor();
    const tree = retained.getByRole('region', { name: 'Retained topics' });
    await tree.getByRole('button', { name: 'Topic demo/sensors/<img src=x onerror=alert(2)>' }).click();
    const viewer = retained.getByRole('region', { name: 'Retained message' });
    expect(await viewer.getByTestId('retained-topic').textContent()).toBe('demo/sensors/<img src=x onerror=alert(2)>');
    expect(await viewer.getByTestId('retained-payload').textContent()).toBe('{\n  "celsius": 21.5\n}');
    expect(await page.locator('img').count()).toBe(0);
    await shot(page, 'desktop-retained');
    await viewer.getByRole('button', { name: 'Delete retained message' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await tree.getByRole('button', { name: 'Topic demo/sensors/<img src=x onerror=alert(2)>' }).waitFor({ state: 'detached' });
    await tree.getByRole('button', { name: 'Topic demo/sensors/t2' }).waitFor();
    // Binary payloads (base64 in the API) are shown as hex.
    await tree.getByRole('button', { name: 'Topic demo/binary' }).click();
    expect(await viewer.getByTestId('retained-payload').textContent()).toBe('ff 00 01');
  });

  it('revoking the token in the UI cuts the web client off within ~2 s', async () => {
    const tokens = await go(page, 'tokens', 'Tokens & ACLs');
    const card = tokens.getByRole('listitem', { name: 'Token web <i>client</i>' });
    await card.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await shot(page, 'desktop-revoke-confirm');
    const started = Date.now();
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('[data-testid="client-badge"][data-state="lost"]').waitFor({ timeout: 4000 });
    const latency = Date.now() - started;
    console.log(`revocation in the UI → web client cut off: ${latency} ms`);
    expect(latency).toBeLessThan(2500);
    await card.waitFor({ state: 'detached' });
    const board = await go(page, 'client', 'MQTT client');
    expect(await board.getByTestId('client-status').textContent()).toMatch(/^Disconnected: connection closed by the server/);
    expect(await board.getByTestId('client-event').first().textContent()).toContain('connection closed by the server');
    expect((await api('GET', '/tenants/e2e/tokens', master)).json.tokens.map((t: { name: string }) => t.name)).toEqual(['master']);
    await shot(page, 'desktop-client-cut-off');
    // The revoked token is refused on reconnect.
    await board.getByRole('button', { name: 'Connect', exact: true }).click();
    await board.getByTestId('client-status').filter({ hasText: /not authorized|bad user name/i }).waitFor();
  });

  it('every page works at phone width (390×844) without sideways scrolling', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const small = await newPage(phone);
    await small.goto(`${broker.httpUrl}/`);
    await section(small, 'Sign in').waitFor();
    // The deployment admin signs in with the admin token and a tenant name.
    const form = section(small, 'Sign in');
    await form.getByLabel('Token', { exact: true }).fill(ADMIN);
    await form.getByLabel('Tenant (only with the admin token)').fill('e2e');
    await shot(small, 'phone-sign-in');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await section(small, 'Tokens & ACLs').waitFor();
    expect(await small.getByTestId('who').textContent()).toBe('tenant e2e · admin');
    for (const [name, title] of PAGES) {
      await small.goto(`${broker.httpUrl}/#/${name}`);
      const region = section(small, title);
      await region.waitFor();
      if (name === 'sessions') await region.getByTestId('sessions-summary').filter({ hasText: /connected|not available/ }).waitFor();
      if (name === 'stats') await region.getByTestId('stat-version').filter({ hasText: /\S{2,}/ }).waitFor();
      if (name === 'retained') await region.getByTestId('retained-summary').filter({ hasText: /matching|not available/ }).waitFor();
      // The create forms are the widest part of these pages.
      if (name === 'bridges') {
        await region.getByRole('button', { name: 'New bridge' }).click();
        await small.getByRole('form', { name: 'Create bridge' }).waitFor();
      }
      if (name === 'rules') {
        await region.getByRole('button', { name: 'New rule' }).click();
        await small.getByRole('form', { name: 'Create rule' }).waitFor();
      }
      const overflow = await sidewaysOverflow(small);
      expect(overflow, `${name} is wider than the phone`).toBeLessThanOrEqual(0);
      await shot(small, `phone-${name}`);
    }
    await phone.close();
  });

  it('no script errors and no dialogs on any page', () => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
