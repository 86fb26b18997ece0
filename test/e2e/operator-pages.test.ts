// The operator's pages in a real headless Chromium against the real broker: the Events page (the tenant's
// event log, live while shown, filtered, paged) and the Statistics page's history (per-minute charts with a
// time axis, per-token usage), fed by real mqtt.js clients: one cut off by its publish rate, one kicked.
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { section, shot, signIn, sidewaysOverflow, skipWithoutChromium, startBrokerAndChromium, watchedPage, type PageProblems } from './browser.js';
import type { RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish, waitUntil } from '../integration/clients.js';
import { api, newTenant, newToken } from '../integration/tenants.js';

const ADMIN = 'e2e-operator-admin';
const TENANT = 'ops';
/** Live updates poll every 3 s, and an event reaches its log shard a moment after it happens. */
const LIVE_TIMEOUT = 9000;


let broker: RunningBroker;
let browser: Browser;
let desktop: BrowserContext;
let page: Page;
let master: string;
let device: { token: string; id: string };
let limited: { token: string; id: string };
const problems: PageProblems = { pageErrors: [], dialogs: [] };
const { pageErrors, dialogs } = problems;
const newPage = (context: BrowserContext) => watchedPage(context, problems);


async function go(target: Page, name: string, link: string, title = link): Promise<Locator> {
  await target.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: link, exact: true }).click();
  const region = section(target, title);
  await region.waitFor();
  expect(target.url()).toContain(`#/${name}`);
  return region;
}

/** The rows of the event log, as { id, kind, clientId, token, message, reason }. */
async function rows(events: Locator) {
  return events.getByTestId('event-row').evaluateAll((trs: any[]) =>
    trs.map((tr) => ({
      id: tr.dataset.id as string,
      kind: tr.dataset.kind as string,
      clientId: tr.querySelector('[data-label="Client id"]').textContent as string,
      token: tr.querySelector('[data-label="Token"]').textContent as string,
      message: tr.querySelector('[data-label="Message"]').textContent as string,
      reason: tr.querySelector('[data-label="Reason"]').textContent as string,
    })),
  );
}

/** A row of this kind (and client id) in the log, waited for as live updates bring it. */
function row(events: Locator, kind: string, text: string): Locator {
  return events.locator(`tr[data-kind="${kind}"]`).filter({ hasText: text });
}

/** Ids of the log order: (at, shard, seq) descending. */
function newerFirst(a: string, b: string): number {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
}

describe.skipIf(skipWithoutChromium)('operator pages in headless Chromium: events and statistics history', () => {
  beforeAll(async () => {
    ({ broker, browser } = await startBrokerAndChromium(ADMIN));
    master = await newTenant(broker, ADMIN, TENANT);
    device = await newToken(broker, TENANT, master, { name: 'device <b>one</b>', acl: [{ filter: 'ops/#', rights: ['pub', 'sub'] }] });
    limited = await newToken(broker, TENANT, master, { name: 'limited', acl: [{ filter: 'ops/#', rights: ['pub', 'sub'] }], limits: { publishRate: 1 } });
    desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await newPage(desktop);
    await signIn(page, broker.httpUrl, master);
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
  });

  it('shows connects, disconnects with their reason, a kick and a limit hit as they happen, without a reload', async () => {
    const events = await go(page, 'events', 'Events');
    await events.getByTestId('events-status').filter({ hasText: /^Live/ }).waitFor();
    // Set once: a reload of the document would lose it.
    await page.evaluate('window.__sameDocument = true');

    // A connect with its client id and the token's name (as text), then a clean disconnect.
    const client = await connectClient(broker.mqttUrl, { clientId: 'ops-device', username: device.token, protocolVersion: 5 });
    const connect = row(events, 'connect', 'ops-device');
    await connect.waitFor({ timeout: LIVE_TIMEOUT });
    expect(await connect.locator('[data-label="Token"]').textContent()).toBe('device <b>one</b>');
    expect(await connect.locator('[data-label="Message"]').textContent()).toContain('MQTT 5.0');
    expect(await events.locator('td b').count()).toBe(0);
    for (let i = 0; i < 5; i++) await publish(client, `ops/t/${i}`, `m${i}`, { qos: 1 });
    await end(client);
    await row(events, 'disconnect', 'ops-device').filter({ hasText: 'client sent DISCONNECT' }).waitFor({ timeout: LIVE_TIMEOUT });

    // A token allowed one message a second publishes five at once: cut off with 0x96, and the limit hit logged.
    const fast = await connectClient(broker.mqttUrl, { clientId: 'ops-limited', username: limited.token, protocolVersion: 5 });
    const cut = new Promise<number | undefined>((done) => fast.once('disconnect', (packet) => done(packet.reasonCode)));
    for (let i = 0; i < 5; i++) fast.publish('ops/fast', 'x', { qos: 0 });
    expect(await cut).toBe(0x96);
    await end(fast, true);
    const limit = row(events, 'limit', 'ops-limited');
    await limit.waitFor({ timeout: LIVE_TIMEOUT });
    expect(await limit.locator('[data-label="Kind"]').textContent()).toContain('Publish rate (MQTT)');
    expect(await limit.locator('[data-label="Token"]').textContent()).toBe('limited');
    const rateCut = row(events, 'disconnect', 'ops-limited');
    await rateCut.waitFor({ timeout: LIVE_TIMEOUT });
    expect(await rateCut.locator('[data-label="Reason"]').textContent()).toBe('0x96');
    expect(await rateCut.locator('[data-label="Reason"] abbr').getAttribute('title')).toBe('Message rate too high');

    // Kicked through the API: DISCONNECT 0x98, logged as a kick.
    const victim = await connectClient(broker.mqttUrl, { clientId: 'ops-kicked', username: device.token, protocolVersion: 5 });
    await row(events, 'connect', 'ops-kicked').waitFor({ timeout: LIVE_TIMEOUT });
    const closed = new Promise<void>((done) => victim.once('close', () => done()));
    expect((await api(broker, 'DELETE', `/tenants/${TENANT}/sessions/ops-kicked`, master)).status).toBe(204);
    await closed;
    await end(victim, true);
    const kick = row(events, 'kick', 'ops-kicked');
    await kick.waitFor({ timeout: LIVE_TIMEOUT });
    expect(await kick.locator('[data-label="Reason"]').textContent()).toBe('0x98');

    // Newest first, no row twice, still the same document.
    const shown = await rows(events);
    expect(new Set(shown.map((r) => r.id)).size).toBe(shown.length);
    expect(shown.map((r) => r.id)).toEqual([...shown.map((r) => r.id)].sort(newerFirst));
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await shot(page, 'desktop-events');
  });

  it('pauses and resumes the live updates, and stops polling while another page is shown', async () => {
    const events = section(page, 'Events');
    const live = events.getByRole('button', { name: 'Pause live updates' });
    await live.click();
    const resume = events.getByRole('button', { name: 'Resume live updates' });
    expect(await resume.getAttribute('aria-pressed')).toBe('true');
    await end(await connectClient(broker.mqttUrl, { clientId: 'ops-while-paused', username: device.token }));
    await waitUntil(async () => (await api(broker, 'GET', `/tenants/${TENANT}/events?clientId=ops-while-paused&kind=disconnect`, master)).json.events.length > 0, {
      what: 'the paused-time disconnect in the log',
    });
    await page.waitForTimeout(3500); // longer than a poll
    expect(await events.locator('tr').filter({ hasText: 'ops-while-paused' }).count()).toBe(0);
    await resume.click();
    await row(events, 'disconnect', 'ops-while-paused').waitFor({ timeout: LIVE_TIMEOUT });

    // Hidden: no requests for the event log.
    const asked: string[] = [];
    const listen = (request: { url(): string }) => {
      if (request.url().includes('/events')) asked.push(request.url());
    };
    await go(page, 'tokens', 'Tokens & ACLs');
    page.on('request', listen);
    await page.waitForTimeout(3500);
    page.off('request', listen);
    expect(asked).toEqual([]);
  });

  it('filters by client id, kind and token, and shows a refused filter as an error', async () => {
    const events = await go(page, 'events', 'Events');
    const filters = events.getByRole('form', { name: 'Event filters' });
    /** Waits until the rows shown (some) pass `check`: a filter applies with the next answer. */
    const settle = (check: (shown: Awaited<ReturnType<typeof rows>>) => boolean, what: string) =>
      waitUntil(async () => {
        const shown = await rows(events);
        return shown.length > 0 && check(shown);
      }, { what });

    await filters.getByLabel('Client id').fill('ops-device');
    await filters.getByLabel('Client id').press('Enter');
    await settle((shown) => shown.every((r) => r.clientId === 'ops-device') && shown.some((r) => r.kind === 'connect') && shown.some((r) => r.kind === 'disconnect'), 'only ops-device');

    await filters.getByLabel('Client id').fill('');
    await filters.getByRole('checkbox', { name: 'Kick' }).check();
    await settle((shown) => shown.every((r) => r.kind === 'kick') && shown.some((r) => r.clientId === 'ops-kicked'), 'only kicks');
    await filters.getByRole('checkbox', { name: 'Limit hit' }).check();
    await settle((shown) => shown.every((r) => r.kind === 'kick' || r.kind === 'limit') && shown.some((r) => r.kind === 'limit'), 'kicks and limit hits');

    await filters.getByRole('button', { name: 'Clear filters' }).click();
    await filters.getByRole('combobox', { name: /^Token/ }).selectOption({ label: `limited (${limited.id})` });
    await settle((shown) => shown.every((r) => r.token === 'limited') && shown.some((r) => r.kind === 'limit'), 'only the limited token');
    await shot(page, 'desktop-events-filtered');

    // The API refuses a page of 1000: its words are shown, and no stale rows.
    await filters.getByLabel('Page size').fill('1000');
    await filters.getByLabel('Page size').press('Enter');
    await events.getByRole('alert').filter({ hasText: 'limit must be an integer from 1 to 500' }).waitFor();
    expect(await events.getByTestId('event-row').count()).toBe(0);
    await filters.getByRole('button', { name: 'Clear filters' }).click();
    await events.getByTestId('event-row').first().waitFor();
    expect(await events.getByTestId('events-error').textContent()).toBe('');
  });

  it('"Load older" continues the log a page at a time, without gaps or repeats, to its end', async () => {
    const events = section(page, 'Events');
    const filters = events.getByRole('form', { name: 'Event filters' });
    const all = (await api(broker, 'GET', `/tenants/${TENANT}/events?limit=500`, master)).json.events.map((e: { id: string }) => e.id) as string[];
    expect(all.length).toBeGreaterThan(8);
    // Paused, so that new events do not join in while paging.
    await events.getByRole('button', { name: 'Pause live updates' }).click();
    await filters.getByLabel('Page size').fill('4');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await waitUntil(async () => (await events.getByTestId('event-row').count()) === 4, { what: 'a first page of 4' });
    const older = events.getByRole('button', { name: 'Load older' });
    let pages = 1;
    while (await older.isVisible()) {
      const before = await events.getByTestId('event-row').count();
      await older.click();
      await waitUntil(async () => (await events.getByTestId('event-row').count()) > before, { what: 'an older page' });
      pages++;
      expect(pages).toBeLessThan(40);
    }
    const shown = (await rows(events)).map((r) => r.id);
    expect(pages).toBeGreaterThanOrEqual(3);
    // Every event the API had is shown once, in log order.
    expect(shown.slice(0, all.length)).toEqual(all);
    expect(new Set(shown).size).toBe(shown.length);
    expect(await events.getByTestId('events-status').textContent()).toContain('the whole log');
    await filters.getByRole('button', { name: 'Clear filters' }).click();
    await events.getByRole('button', { name: 'Resume live updates' }).click();
  });

  it('statistics: the live figures with every limit hit named, per-minute charts with a time axis, and per-token usage', async () => {
    // The history counts what the topic shards and log shards flushed: wait until the API has it.
    await waitUntil(
      async () => {
        const history = (await api(broker, 'GET', `/tenants/${TENANT}/stats/history?minutes=60`, master)).json;
        return history.tokens.some((t: { tokenId: string; messages_in?: number }) => t.tokenId === device.id && (t.messages_in ?? 0) >= 5);
      },
      { what: "the device token's 5 messages in the history", timeoutMs: 10_000, intervalMs: 200 },
    );
    const stats = await go(page, 'stats', 'Statistics');
    await stats.getByTestId('limit-hits').locator('[data-limit="publish_rate"]').filter({ hasText: 'Publish rate (MQTT)' }).waitFor();

    const history = stats.getByRole('region', { name: 'History' });
    await history.getByTestId('history-status').filter({ hasText: 'last hour' }).waitFor();
    const messages = history.getByTestId('history-messages');
    expect(await messages.getAttribute('role')).toBe('img');
    expect(await messages.getAttribute('aria-label')).toMatch(/^Messages per minute, last hour: in \d+, out \d+ in total; busiest minute \d\d:\d\d/);
    const labels = (await messages.getAttribute('data-time-labels')) ?? '';
    expect(labels).toMatch(/^\d\d:\d\d( \d\d:\d\d)+$/);
    expect(await history.getByTestId('history-cost').getAttribute('aria-label')).toMatch(/^Cost drivers: Durable Object requests and rows per minute, last hour: requests [1-9]/);
    expect(await history.getByText('What Cloudflare bills for Durable Objects').count()).toBe(1);
    // Ink in the strip under each chart's plot: the HH:MM labels.
    const axisInk = await history.locator('canvas.chart').evaluateAll((canvases: any[]) =>
      canvases.map((canvas) => {
        const ratio = canvas.width / canvas.clientWidth;
        const strip = canvas.getContext('2d').getImageData(0, canvas.height - Math.round(16 * ratio), canvas.width, Math.round(16 * ratio)).data;
        let inked = 0;
        for (let i = 3; i < strip.length; i += 4) if (strip[i]! > 0) inked++;
        return inked;
      }),
    );
    expect(axisInk).toHaveLength(5);
    for (const inked of axisInk) expect(inked).toBeGreaterThan(50);

    // Per-token usage over the window: the publishing token's messages, its name shown as text.
    const usage = history.getByRole('table', { name: 'Usage per token, last hour' });
    const deviceRow = usage.getByRole('row').filter({ hasText: 'device <b>one</b>' });
    expect(Number(await deviceRow.locator('[data-label="Messages in"]').textContent())).toBeGreaterThanOrEqual(5);
    expect(Number(await deviceRow.locator('[data-label="Connects"]').textContent())).toBeGreaterThanOrEqual(2);
    const limitedRow = usage.getByRole('row').filter({ hasText: 'limited' });
    expect(Number(await limitedRow.locator('[data-label="Limit hits"]').textContent())).toBeGreaterThanOrEqual(1);
    await shot(page, 'desktop-statistics-history');

    // Another range: the day, with hours on the axis.
    await history.getByLabel('Range').selectOption({ label: 'Last 24 hours' });
    await history.getByTestId('history-status').filter({ hasText: 'last 24 hours' }).waitFor();
    await history.getByRole('table', { name: 'Usage per token, last 24 hours' }).waitFor();
    expect(await messages.getAttribute('data-time-labels')).toMatch(/^(\d\d:00 ?)+$/);
  });

  it('both pages fit a 390 px phone without sideways scrolling', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const small = await newPage(phone);
    await signIn(small, broker.httpUrl, master);
    const overflow = () => sidewaysOverflow(small);

    await small.goto(`${broker.httpUrl}/#/events`);
    const events = section(small, 'Events');
    await row(events, 'limit', 'ops-limited').waitFor({ timeout: LIVE_TIMEOUT });
    expect(await overflow(), 'Events is wider than the phone').toBeLessThanOrEqual(0);
    await shot(small, 'phone-events');

    await small.goto(`${broker.httpUrl}/#/stats`);
    const stats = section(small, 'Statistics');
    await stats.getByRole('table', { name: 'Usage per token, last hour' }).getByRole('row').filter({ hasText: 'limited' }).waitFor();
    await stats.getByTestId('stat-version').filter({ hasText: /\S{2,}/ }).waitFor();
    expect(await stats.getByTestId('history-messages').getAttribute('data-time-labels')).toMatch(/^\d\d:\d\d( \d\d:\d\d)+$/);
    expect(await overflow(), 'Statistics is wider than the phone').toBeLessThanOrEqual(0);
    await shot(small, 'phone-statistics-history');
    await phone.close();
  });

  it('no script errors and no dialogs', () => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
