// What every browser test shares: Debian's Chromium driven by playwright-core (no browser download), pages
// that record script errors and dialogs, screenshots, and a page section found by its heading.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startBroker, type RunningBroker } from '../integration/broker.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = resolve(import.meta.dirname, '../../test-results/screenshots');

/** Outside CI a machine without Chromium skips (and says why); in CI a missing browser is a failure. */
export const skipWithoutChromium = !existsSync(CHROMIUM) && !process.env.CI;
if (skipWithoutChromium) console.warn(`browser tests SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium to run them; CI always runs them)`);

export function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The real broker (anonymous clients refused, `admin` as ADMIN_TOKEN) and Chromium, started side by side. */
export async function startBrokerAndChromium(admin: string): Promise<{ broker: RunningBroker; browser: Browser }> {
  const [broker, browser] = await Promise.all([startBroker({ vars: { ADMIN_TOKEN: admin, ALLOW_ANONYMOUS: 'false' } }), launchChromium()]);
  return { broker, browser };
}

/** Script errors and dialogs seen by the pages of a test file: each file asserts there were none. */
export interface PageProblems {
  pageErrors: string[];
  dialogs: string[];
}

/** A new page that records its script errors and dismisses (and records) any dialog. */
export async function watchedPage(context: BrowserContext, problems: PageProblems, timeoutMs = 6000): Promise<Page> {
  const created = await context.newPage();
  created.setDefaultTimeout(timeoutMs);
  created.on('pageerror', (error) => problems.pageErrors.push(`${error.name}: ${error.message}`));
  created.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return created;
}

export async function shot(target: Page, name: string): Promise<void> {
  await target.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

/** The visible page section (a region named by its heading). */
export function section(target: Page, title: string): Locator {
  return target.getByRole('region', { name: title, exact: true });
}

/** Signs in on the dashboard at `baseUrl` with a tenant's token and waits for its first page. */
export async function signIn(target: Page, baseUrl: string, token: string): Promise<void> {
  await target.goto(`${baseUrl}/`);
  const form = section(target, 'Sign in');
  await form.getByLabel('Token', { exact: true }).fill(token);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await section(target, 'Tokens & ACLs').waitFor();
}

/** How far the page is wider than the window, in CSS pixels (0 or less: no sideways scrolling). */
export function sidewaysOverflow(target: Page): Promise<number> {
  return target.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
}
