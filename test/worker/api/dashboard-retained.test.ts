// The dashboard's retained page in headless Chromium under the real security headers: it runs (the CSP lets
// its modules and WebSocket through, nothing is reported) and follows the API's pages with "Load more".
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startWorkerApi, type WorkerApi } from './worker-api.js';

const CHROMIUM = '/usr/bin/chromium';
// As test/e2e: outside CI a machine without Chromium skips (and says why).
const skip = !existsSync(CHROMIUM) && !process.env.CI;
if (skip) console.warn(`dashboard retained test SKIPPED: ${CHROMIUM} is missing`);
/** One page of the dashboard's GET /retained (dashboard/pages/retained.js PAGE_LIMIT) and a few more. */
const RETAINED = 1005;

describe.skipIf(skip)('dashboard retained page', () => {
  let api: WorkerApi;
  let browser: Browser;
  let page: Page;
  let master: string;
  const problems: string[] = [];

  beforeAll(async () => {
    const [started, launched] = await Promise.all([
      startWorkerApi(),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] }),
    ]);
    api = started;
    browser = launched;
    master = await api.newTenant('board');
    const topics = Array.from({ length: RETAINED }, (_, i) => `plant/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < topics.length; i += 50) {
      const answers = await Promise.all(topics.slice(i, i + 50).map((topic) => api.call('POST', '/tenants/board/publish', ADMIN, { topic, payload: topic, retain: true })));
      expect(answers.every((a) => a.status === 200)).toBe(true);
    }
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => problems.push(`pageerror ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content.Security.Policy/i.test(message.text())) problems.push(`console ${message.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  it('loads the first page, then the rest with "Load more"; no CSP violation on the way', async () => {
    const response = await page.goto(`${api.broker.httpUrl}/`);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    const signIn = page.getByRole('region', { name: 'Sign in', exact: true });
    await signIn.getByLabel('Token', { exact: true }).fill(master);
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Dashboard pages' }).getByRole('link', { name: 'Retained' }).click();
    const retained = page.getByRole('region', { name: 'Retained messages', exact: true });
    const summary = retained.getByTestId('retained-summary');
    await summary.filter({ hasText: '1000 retained messages matching # so far' }).waitFor();
    const more = retained.getByRole('button', { name: 'Load more' });
    await more.click();
    await summary.filter({ hasText: `${RETAINED} retained messages matching #` }).waitFor();
    expect(await summary.textContent()).not.toContain('so far');
    await more.waitFor({ state: 'hidden' });
    await retained.getByRole('region', { name: 'Retained topics' }).getByRole('button', { name: 'Topic plant/1004' }).click();
    expect(await retained.getByTestId('retained-payload').textContent()).toBe('plant/1004');
    expect(problems).toEqual([]);
  });
});
