// The dashboard's web MQTT client as an MQTT 5.0 client, in headless Chromium against the real broker in
// workerd: reason codes (CONNACK, SUBACK, PUBACK, DISCONNECT), QoS 2 both ways, user properties, retain,
// the will, the message-list filter, and the 3.1.1 choice.
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { section, shot, sidewaysOverflow, skipWithoutChromium, startBrokerAndChromium, watchedPage, type PageProblems } from './browser.js';
import type { RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish, recorder, subscribe } from '../integration/clients.js';
import { api, newTenant, newToken } from '../integration/tenants.js';

const ADMIN = 'web5-admin';
const TENANT = 'web5';


let broker: RunningBroker;
let browser: Browser;
let desktop: BrowserContext;
let page: Page;
let board: Locator;
let master: string;
const problems: PageProblems = { pageErrors: [], dialogs: [] };
const { pageErrors, dialogs } = problems;
const newPage = (context: BrowserContext) => watchedPage(context, problems);


/** Signs in with the tenant's master token and opens the MQTT client page (the token is filled in there). */
async function openBoard(target: Page): Promise<Locator> {
  await target.goto(`${broker.httpUrl}/`);
  const form = target.getByRole('region', { name: 'Sign in', exact: true });
  await form.getByLabel('Token', { exact: true }).fill(master);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await target.getByRole('region', { name: 'Tokens & ACLs', exact: true }).waitFor();
  await target.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: 'MQTT client' }).click();
  const region = target.getByRole('region', { name: 'MQTT client', exact: true });
  await region.waitFor();
  return region;
}

/** Connects the page's client; `token` replaces the master token the page starts with. */
async function connect(region: Locator, clientId: string, options: { token?: string; protocol?: '4' | '5' } = {}): Promise<void> {
  const form = region.getByRole('form', { name: 'Connection' });
  if (options.token) await form.getByLabel('Token').fill(options.token);
  await form.getByLabel('Client id').fill(clientId);
  await form.getByLabel('Protocol').selectOption(options.protocol ?? '5');
  await form.getByRole('button', { name: 'Connect', exact: true }).click();
  await region.getByTestId('client-status').filter({ hasText: `Connected as ${clientId}` }).waitFor();
}

async function disconnect(region: Locator): Promise<void> {
  await region.getByRole('button', { name: 'Disconnect', exact: true }).click();
  await region.getByTestId('client-status').filter({ hasText: /^Disconnected/ }).waitFor();
}

async function subscribeIn(region: Locator, filter: string, qos: '0' | '1' | '2'): Promise<Locator> {
  const form = region.getByRole('form', { name: 'Subscribe' });
  await form.getByLabel('Topic filter').fill(filter);
  await form.getByLabel('QoS').selectOption(qos);
  await form.getByRole('button', { name: 'Subscribe', exact: true }).click();
  const row = form.locator(`[data-testid="subscription"][data-filter="${filter}"]`);
  await row.waitFor();
  return row;
}

async function publishIn(region: Locator, topic: string, payload: string, qos: '0' | '1' | '2', userProperties: Array<[string, string]> = []): Promise<Locator> {
  const form = region.getByRole('form', { name: 'Publish' });
  await form.getByLabel('Topic', { exact: true }).fill(topic);
  await form.getByLabel('Payload').fill(payload);
  await form.getByLabel('QoS').selectOption(qos);
  // Rows from an earlier publish go first, then one row per property.
  while ((await form.getByRole('button', { name: /^Remove user property/ }).count()) > 0) await form.getByRole('button', { name: 'Remove user property 1' }).click();
  for (const [i, [name, value]] of userProperties.entries()) {
    await form.getByRole('button', { name: 'Add user property' }).click();
    await form.getByLabel(`User property ${i + 1} name`).fill(name);
    await form.getByLabel(`User property ${i + 1} value`).fill(value);
  }
  await form.getByRole('button', { name: 'Publish', exact: true }).click();
  return region.getByRole('log', { name: 'Messages' }).getByTestId('published').filter({ hasText: payload }).first();
}

function messages(region: Locator): Locator {
  return region.getByRole('log', { name: 'Messages' }).getByTestId('message');
}

function status(region: Locator): Promise<string | null> {
  return region.getByTestId('client-status').locator('span').first().textContent();
}

describe.skipIf(skipWithoutChromium)('web client: MQTT 5.0 in headless Chromium', () => {
  beforeAll(async () => {
    ({ broker, browser } = await startBrokerAndChromium(ADMIN));
    master = await newTenant(broker, ADMIN, TENANT);
    desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await newPage(desktop);
    board = await openBoard(page);
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
  });

  it('[MQTT-3.2.2-8 v5] connects with MQTT 5.0 and shows the CONNACK reason code', async () => {
    await connect(board, 'web5');
    expect(await status(board)).toBe('Connected as web5 (MQTT 5.0)');
    expect(await board.getByTestId('client-status-detail').textContent()).toMatch(/^CONNACK 0x00 Success · session present: no/);
    await board.getByTestId('client-event').filter({ hasText: 'CONNACK 0x00 Success' }).waitFor();
    expect(await page.getByTestId('client-badge').getAttribute('data-state')).toBe('connected');
  });

  it('[MQTT-4.3.3-4 v5] [MQTT-3.3.2-17 v5] QoS 2 subscribe and publish with user properties: the message arrives with them, at QoS 2', async () => {
    const peer = await connectClient(broker.mqttUrl, { clientId: 'web5-peer', username: master, protocolVersion: 5 });
    const got = recorder(peer);
    await subscribe(peer, 'lab/#', 2);
    const row = await subscribeIn(board, 'lab/#', '2');
    expect(await row.getByTestId('suback').textContent()).toBe('QoS 2 granted');

    const evil = '<img src=x onerror=alert(1)>';
    const sent = await publishIn(board, 'lab/qos2', 'exactly once', '2', [['unit', 'celsius'], ['note', evil]]);
    await sent.getByTestId('publish-outcome').filter({ hasText: 'PUBREC 0x00 Success, PUBCOMP received' }).waitFor();

    const message = messages(board).filter({ hasText: 'exactly once' });
    await message.waitFor();
    expect(await message.getByTestId('message-qos').textContent()).toBe('QoS 2');
    expect(await message.getByTestId('user-property').allTextContents()).toEqual(['unit: celsius', `note: ${evil}`]);
    expect(await message.getByTestId('message-retained').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);

    // mqtt.js, subscribed at QoS 2, gets the same properties from the page's publish.
    await got.waitFor(1);
    expect(got.messages[0]!.packet.qos).toBe(2);
    expect(got.messages[0]!.packet.properties?.userProperties).toEqual({ unit: 'celsius', note: evil });

    // And a QoS 2 message from mqtt.js, with a user property, reaches the page (inbound PUBREC, PUBREL, PUBCOMP).
    await new Promise<void>((done, fail) => peer.publish('lab/from-mqtt-js', 'inbound', { qos: 2, properties: { userProperties: { origin: 'mqtt.js' } } }, (error) => (error ? fail(error) : done())));
    const inbound = messages(board).filter({ hasText: 'inbound' });
    await inbound.waitFor();
    expect(await inbound.getByTestId('message-qos').textContent()).toBe('QoS 2');
    expect(await inbound.getByTestId('user-property').allTextContents()).toEqual(['origin: mqtt.js']);
    await end(peer);
  });

  it('[MQTT-3.3.1-9 v5] a retained message from mqtt.js reaches a new subscription with the retain flag shown', async () => {
    const device = await connectClient(broker.mqttUrl, { clientId: 'web5-device', username: master, protocolVersion: 5 });
    await publish(device, 'retained/temp', '21.5', { qos: 1, retain: true });
    await end(device);
    await subscribeIn(board, 'retained/#', '1');
    const message = messages(board).filter({ hasText: '21.5' });
    await message.waitFor();
    expect(await message.getByTestId('message-retained').textContent()).toBe('retained');
    expect(await message.getByTestId('message-qos').textContent()).toBe('QoS 1');
    await shot(page, 'desktop-web-client-v5');
  });

  it('the message-list filter (+ and # wildcards) hides messages on other topics', async () => {
    const log = board.getByRole('log', { name: 'Messages' });
    const filter = board.getByLabel('Show topics matching');
    const lab = messages(board).filter({ hasText: 'exactly once' });
    const retained = messages(board).filter({ hasText: '21.5' });
    const shown = async () => [await lab.isVisible(), await retained.isVisible()];

    await filter.fill('lab/+');
    await expect.poll(shown).toEqual([true, false]);
    expect(await board.getByTestId('message-count').textContent()).toMatch(/^2 of 3 messages shown$/);
    // Our own publishes follow the filter too; connection events stay.
    expect(await log.getByTestId('published').filter({ hasText: 'exactly once' }).isVisible()).toBe(true);
    expect(await log.getByTestId('client-event').first().isVisible()).toBe(true);
    await filter.fill('retained/#');
    await expect.poll(shown).toEqual([false, true]);
    await filter.fill('#');
    await expect.poll(shown).toEqual([true, true]);
    await filter.fill('+/temp/#');
    await expect.poll(shown).toEqual([false, true]);
    // Not a filter: everything shows, and the hint says why.
    await filter.fill('lab/#/x');
    await expect.poll(shown).toEqual([true, true]);
    expect(await board.getByTestId('message-filter-hint').textContent()).toContain('Not a valid topic filter');
    await filter.fill('');
    await expect.poll(shown).toEqual([true, true]);
  });

  it('[MQTT-3.14.2-1 v5] an admin kick shows "0x98 Administrative action" in the status, not a WebSocket close code', async () => {
    const kick = await api(broker, 'DELETE', `/tenants/${TENANT}/sessions/web5`, master);
    expect(kick.status).toBe(204);
    await page.locator('[data-testid="client-badge"][data-state="lost"]').waitFor();
    const text = await status(board);
    expect(text).toMatch(/^Disconnected: connection closed by the server: 0x98 Administrative action/);
    expect(await board.getByTestId('client-status').textContent()).not.toMatch(/code 1000|WebSocket/);
    await board.getByTestId('client-event').filter({ hasText: '0x98 Administrative action' }).waitFor();
    await shot(page, 'desktop-web-client-v5-kicked');
  });

  it('[MQTT-3.4.2-1 v5] a publish the token ACL forbids is marked "refused: 0x87 Not authorized"; so is such a subscription', async () => {
    const limited = await newToken(broker, TENANT, master, { name: 'lab only', acl: [{ filter: 'lab/#', rights: ['pub', 'sub'] }] });
    await connect(board, 'web5-limited', { token: limited.token });
    const row = await subscribeIn(board, 'secret/#', '1');
    expect(await row.getByTestId('suback').textContent()).toBe('refused: 0x87 Not authorized');

    const refused = await publishIn(board, 'secret/plans', 'not for this token', '1');
    await refused.getByTestId('publish-outcome').filter({ hasText: /^refused: 0x87 Not authorized/ }).waitFor();
    expect(await refused.getAttribute('class')).toContain('refused');
    const refused2 = await publishIn(board, 'secret/plans', 'nor at QoS 2', '2');
    await refused2.getByTestId('publish-outcome').filter({ hasText: /^refused: 0x87 Not authorized/ }).waitFor();
    const allowed = await publishIn(board, 'lab/ok', 'allowed', '1');
    await allowed.getByTestId('publish-outcome').filter({ hasText: /^PUBACK 0x(00 Success|10 No matching subscribers)/ }).waitFor();
    await shot(page, 'desktop-web-client-v5-refused');
    await disconnect(board);
  });

  it('[MQTT-3.1.2-8 v5] a will set in the page is published when the page goes away without DISCONNECT', async () => {
    const watcher = await connectClient(broker.mqttUrl, { clientId: 'web5-will-watcher', username: master, protocolVersion: 5 });
    const got = recorder(watcher);
    await subscribe(watcher, 'wills/#', 1);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const other = await newPage(context);
    const region = await openBoard(other);
    const form = region.getByRole('form', { name: 'Connection' });
    await form.getByText('Will message').click();
    await form.getByLabel('Will topic').fill('wills/web5-dying');
    await form.getByLabel('Will payload').fill('the page went away');
    await form.getByLabel('Will QoS').selectOption('1');
    await connect(region, 'web5-dying');
    expect(got.messages).toEqual([]);
    await context.close(); // the socket goes with the page: no DISCONNECT is sent

    await got.waitFor(1);
    expect(got.messages[0]).toMatchObject({ topic: 'wills/web5-dying', payload: 'the page went away' });
    expect(got.messages[0]!.packet.qos).toBe(1);
    await end(watcher);
  });

  it('[MQTT-3.1.2-2] the 3.1.1 choice still connects; a kick there reads "connection closed by the server", the close code only as detail', async () => {
    await connect(board, 'web5-v4', { token: master, protocol: '4' });
    expect(await status(board)).toBe('Connected as web5-v4 (MQTT 3.1.1)');
    expect(await board.getByTestId('client-status-detail').textContent()).toMatch(/^CONNACK 0 \(accepted\)/);
    const row = await subscribeIn(board, 'v4/#', '2');
    expect(await row.getByTestId('suback').textContent()).toBe('QoS 2 granted');
    const sent = await publishIn(board, 'v4/x', 'three one one', '2');
    await sent.getByTestId('publish-outcome').filter({ hasText: 'PUBREC, PUBCOMP received' }).waitFor();
    await messages(board).filter({ hasText: 'three one one' }).waitFor();

    const kick = await api(broker, 'DELETE', `/tenants/${TENANT}/sessions/web5-v4`, master);
    expect(kick.status).toBe(204);
    await page.locator('[data-testid="client-badge"][data-state="lost"]').waitFor();
    expect(await status(board)).toBe('Disconnected: connection closed by the server');
    expect(await board.getByTestId('client-status-detail').textContent()).toMatch(/^WebSocket close code \d+/);
  });

  it('the client page at phone width (390×844): no sideways scrolling, will and user properties open', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const small = await newPage(phone);
    const region = await openBoard(small);
    await connect(region, 'web5-phone');
    await region.getByRole('form', { name: 'Connection' }).getByText('Will message').click();
    const pub = region.getByRole('form', { name: 'Publish' });
    await pub.getByRole('button', { name: 'Add user property' }).click();
    await pub.getByLabel('User property 1 name').fill('a-rather-long-property-name');
    await pub.getByLabel('User property 1 value').fill('and a long value that has to wrap on a phone');
    await subscribeIn(region, 'lab/#', '2');
    await pub.getByLabel('Topic', { exact: true }).fill('lab/phone/with/a/long/topic/name');
    await pub.getByLabel('Payload').fill('{"from":"the phone"}');
    await pub.getByRole('button', { name: 'Publish', exact: true }).click();
    await messages(region).filter({ hasText: 'the phone' }).waitFor();
    const overflow = await sidewaysOverflow(small);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(small, 'phone-web-client-v5');
    await phone.close();
  });

  it('no script errors and no dialogs', () => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
