// The Rules page in a real headless Chromium against the real broker: create a webhook rule (its generated
// secret shown once), see its counters rise as a real mqtt.js client publishes and a real HTTP receiver takes
// the batches, see a failure as the last error, edit it, test it, delete it. Names and errors show as text.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish } from '../integration/clients.js';
import { api, newTenant, newToken } from '../integration/tenants.js';
import { signatureValid, startReceiver, type WebhookReceiver } from '../integration/webhook-receiver.js';
import { section, shot, signIn, sidewaysOverflow, skipWithoutChromium, startBrokerAndChromium, watchedPage, type PageProblems } from './browser.js';

const ADMIN = 'e2e-rules-admin';
const TENANT = 'rules-ui';
/** The page refreshes every 3 s. */
const LIVE_TIMEOUT = 9000;

let broker: RunningBroker;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let master: string;
let hook: WebhookReceiver;
const problems: PageProblems = { pageErrors: [], dialogs: [] };

describe.skipIf(skipWithoutChromium)('Rules page in headless Chromium', () => {
  beforeAll(async () => {
    [{ broker, browser }, hook] = await Promise.all([startBrokerAndChromium(ADMIN), startReceiver()]);
    master = await newTenant(broker, ADMIN, TENANT);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await watchedPage(context, problems);
    await signIn(page, broker.httpUrl, master);
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
    await hook?.close();
  });

  it('creates a rule, shows its secret once, its counters and last error, edits, tests and deletes it', async () => {
    await page.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: 'Rules', exact: true }).click();
    const rules = section(page, 'Rules');
    await rules.waitFor();
    await rules.getByText('No rules yet.').waitFor();

    await rules.getByRole('button', { name: 'New rule' }).click();
    const create = page.getByRole('form', { name: 'Create rule' });
    await create.getByLabel('Name').fill('to-hook');
    await create.getByLabel('Topic filter').fill('ui/#');
    await create.getByLabel('URL').fill(hook.url);
    await create.getByLabel('Max wait (ms)').fill('100');
    await create.getByRole('button', { name: 'Create rule' }).click();
    const secret = (await page.getByTestId('rule-secret').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    await shot(page, 'rules-created');
    await page.getByRole('region', { name: 'Webhook secret' }).getByRole('button', { name: 'Done' }).click();

    const card = rules.locator('[data-rule="to-hook"]');
    await card.getByTestId('rule-state').filter({ hasText: 'connected' }).waitFor({ timeout: LIVE_TIMEOUT });
    expect(await card.textContent()).toContain('set (write-only)');
    expect(await card.textContent()).not.toContain(secret);

    const device = await newToken(broker, TENANT, master, { name: 'd', acl: [{ filter: '#', rights: ['pub'] }] });
    const client = await connectClient(broker.mqttUrl, { username: device.token, clientId: 'ui-device' });
    for (let i = 0; i < 7; i++) await publish(client, `ui/${i}`, `<b>${i}</b>`, { qos: 1 });
    await card.getByTestId('rule-delivered').filter({ hasText: /^7 messages/ }).waitFor({ timeout: LIVE_TIMEOUT });
    expect(hook.accepted().every((request) => signatureValid(request, secret))).toBe(true);

    // A receiver that fails: the error shows as text, with its status.
    hook.behave({ status: 500 });
    await publish(client, 'ui/x', 'fails', { qos: 1 });
    await card.getByTestId('rule-last-error').filter({ hasText: 'HTTP 500: receiver says 500' }).waitFor({ timeout: LIVE_TIMEOUT });
    await card.getByTestId('rule-state').filter({ hasText: 'retrying' }).waitFor({ timeout: LIVE_TIMEOUT });
    expect(Number(await card.getByTestId('rule-failed').textContent())).toBeGreaterThan(0);
    await shot(page, 'rules-failing');
    hook.behave({ status: 200 });
    await card.getByTestId('rule-delivered').filter({ hasText: /^8 messages/ }).waitFor({ timeout: LIVE_TIMEOUT });
    await end(client);

    // Edit: the secret field is empty (write-only) and left so, the secret is kept.
    await card.getByRole('button', { name: 'Edit rule to-hook' }).click();
    const edit = page.getByRole('form', { name: 'Edit rule to-hook' });
    expect(await edit.getByLabel('Secret (HMAC key)').inputValue()).toBe('');
    await edit.getByLabel('Topic filter').fill('ui/+');
    await edit.getByRole('button', { name: 'Save rule' }).click();
    await card.locator('dd.mono').first().filter({ hasText: 'ui/+' }).waitFor();
    const stored = (await api(broker, 'GET', `/tenants/${TENANT}/rules/to-hook`, master)).json.rule;
    expect(stored).toMatchObject({ filter: 'ui/+', destination: { secretSet: true } });

    // A bad filter is refused with the API's words.
    await card.getByRole('button', { name: 'Edit rule to-hook' }).click();
    await edit.getByLabel('Topic filter').fill('ui/#/x');
    await edit.getByRole('button', { name: 'Save rule' }).click();
    await edit.getByRole('alert').filter({ hasText: 'body.filter must be a valid MQTT topic filter' }).waitFor();
    await edit.getByRole('button', { name: 'Cancel' }).click();

    await card.getByRole('button', { name: 'Test rule to-hook' }).click();
    await page.getByText('Test message to “to-hook” accepted').waitFor();

    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
    await card.getByRole('button', { name: 'Delete rule to-hook' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete' }).click();
    await rules.getByText('No rules yet.').waitFor();
    expect(problems).toEqual({ pageErrors: [], dialogs: [] });
  });
});
