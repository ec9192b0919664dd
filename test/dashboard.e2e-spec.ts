import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { Clock } from '../src/common/clock/clock';
import { formatCreditAmount, formatCredits, formatUsd, wholeDaysLeft } from '../dashboard/src/format';
import { createOrganization, issueKey } from './utils/security-fixtures';
import { freePort } from './utils/service-process';
import { ADMIN, ADMIN_KEY, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';

/**
 * The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run) driven by
 * playwright-core, against the app listening on a loopback port. Every view is checked with axe-core (no
 * serious or critical violation) and photographed into test-artifacts/dashboard/. With
 * UPDATE_DOCS_SCREENSHOTS=1 the README's copies in docs/screenshots/ are refreshed too.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  process.stderr.write(`\n[dashboard.e2e-spec] SKIPPED: no Chromium at ${CHROMIUM}. Install it with: apt-get install -y chromium\n\n`);
}
const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

const ROOT = process.cwd();
const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
const DOCS = join(ROOT, 'docs', 'screenshots');
const LAPTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const AXE_SOURCE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const DAY_MS = 86_400_000;

/** The real time, unless a test holds it at one instant (the rest of the suite reads real dates). */
class PinnableClock extends Clock {
  private pinned: Date | undefined;

  pin(at: Date | undefined): void {
    this.pinned = at;
  }

  now(): Date {
    return this.pinned ? new Date(this.pinned) : new Date();
  }
}
const clock = new PinnableClock();

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Runs axe-core in the page (evaluated over the DevTools protocol, so the page's CSP does not block it). */
async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))`)) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function screenshot(page: Page, name: string, options: { fullPage?: boolean; docs?: boolean } = {}): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: options.fullPage ?? false });
  if (options.docs && process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(path, join(DOCS, `${name}.png`));
  }
}

/** One element of the page (a card), photographed alone. */
async function elementScreenshot(page: Page, selector: string, name: string, options: { docs?: boolean } = {}): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.locator(selector).screenshot({ path });
  if (options.docs && process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(path, join(DOCS, `${name}.png`));
  }
}

/** The page fits its width: nothing makes the whole page scroll sideways (tables scroll in their own box). */
async function fitsWidth(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1')) as boolean;
}

/** Pixels of the chart's canvas close to an RGB colour (the series are told apart by colour). */
async function pixelsOfColour(page: Page, rgb: [number, number, number]): Promise<number> {
  return (await page.evaluate(`(() => {
    const canvas = document.querySelector('#usage-chart canvas');
    if (!canvas) return -1;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - ${rgb[0]}) < 30 && Math.abs(data[i + 1] - ${rgb[1]}) < 30 && Math.abs(data[i + 2] - ${rgb[2]}) < 30 && data[i + 3] > 200) count++;
    }
    return count;
  })()`)) as number;
}

async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard`);
  await page.fill('#api-key', key);
  await page.click('form.sign-in button[type=submit]');
}

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim();

describeInBrowser('usage dashboard in Chromium', () => {
  let t: TestApp;
  let baseUrl: string;
  let browser: BrowserContext;
  let profile: string;
  let orgId: string;
  let orgKey: string;
  let trackedEvents = 0;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // The page's assets, built exactly as `npm run build` does (CI runs the tests without a build).
    execFileSync(process.execPath, [join(ROOT, 'dashboard', 'build.mjs')], { stdio: 'pipe' });
    mkdirSync(ARTIFACTS, { recursive: true });
    // Portal links are built from PUBLIC_URL (never the request's Host): the address the browser uses.
    const port = await freePort();
    t = await startTestApp({ clock, config: { port, publicUrl: `http://127.0.0.1:${port}` } });
    await t.app.listen({ port, host: '127.0.0.1' });
    const address = t.app.getHttpServer().address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${address.port}`;

    // An organization with a month of realistic usage: top-ups, then overage, spread over the past days.
    orgId = await createOrganization(t, 'dash', 'starter');
    orgKey = (await issueKey(t, orgId, ['read', 'track'], 'dashboard')).key;
    await t.http().post(`/api/admin/organizations/${orgId}/credits`).set(ADMIN).send({ amount: 100, reason: 'launch promotion' }).expect(201);
    // A member's monthly budget, set before the usage so the usage counts toward it.
    await t.http().post(`/api/admin/organizations/${orgId}/budgets`).set(ADMIN).send({ scope: 'user', subject: 'ana', credits: 1000, period: 'month' }).expect(201);
    const now = Date.now();
    const periodStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    const events = Array.from({ length: 24 }, (_, i) => {
      // Oldest first, at most 6 days back and never before the period's start.
      const occurredAt = new Date(Math.max(periodStart, now - (23 - i) * (DAY_MS / 4) - 60_000)).toISOString();
      return { eventType: 'structuring_generate_solution', eventData: { complexity: 3, echo: true, traceback: true }, userId: ['ana', 'ben', 'cy'][i % 3], occurredAt };
    });
    const batch = await t.http().post(`/api/organizations/${orgId}/usage/events`).set(ADMIN).send({ events }).expect(200);
    trackedEvents = batch.body.results.filter((r: { status: string }) => r.status === 'accepted').length;
    expect(trackedEvents).toBe(24);

    profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: LAPTOP,
      acceptDownloads: true,
      timezoneId: 'UTC',
      locale: 'en-US',
    });
    // Starting the app, the browser and a month of usage takes well over a minute on a loaded 2-core machine.
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
  });

  // Every 4xx or 5xx a page receives fails its test, unless the test provoked it (an invalid key, an invalid
  // edit): a page that swallows a failed call would otherwise pass while showing wrong data.
  const failedResponses: string[] = [];
  const provoked = new WeakMap<Page, Array<(url: URL, status: number, method: string) => boolean>>();
  const provoke = (page: Page, expected: (url: URL, status: number, method: string) => boolean) => provoked.get(page)!.push(expected);
  afterEach(() => {
    expect(failedResponses.splice(0)).toEqual([]);
  });

  const newPage = async (): Promise<Page> => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    provoked.set(page, []);
    page.on('response', (response) => {
      const status = response.status();
      if (status < 400) return;
      const url = new URL(response.url());
      const method = response.request().method();
      if (provoked.get(page)!.some((expected) => expected(url, status, method))) return;
      failedResponses.push(`${status} ${method} ${url.pathname}${url.search}`);
    });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    return page;
  };

  it('serves the page without a key, with its own assets only', async () => {
    const page = await t.http().get('/dashboard').expect(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).not.toMatch(/https?:\/\//);
    await t.http().get('/dashboard/app.js').expect(200).expect('content-type', /javascript/);
    await t.http().get('/dashboard/org/anything').expect(200).expect('content-type', /text\/html/);
    await t.http().get('/dashboard/missing.js').expect(404);
    await t.http().get('/dashboard/..%2Fpackage.json').expect(404);
    await t.http().get('/api/dashboard/session').set({ Authorization: `Bearer ${orgKey}` }).expect(200, { kind: 'organization', organizationId: orgId, scopes: ['track', 'read'] });
    await t.http().get('/api/dashboard/session').set(ADMIN).expect(200, { kind: 'admin' });
    await t.http().get('/api/dashboard/session').expect(401);
    // Every view needs read: a key without it is refused at sign-in, not on each panel.
    const trackOnly = await issueKey(t, orgId, ['track'], 'track only');
    await t.http().get('/api/dashboard/session').set(trackOnly.headers).expect(403);
  });

  it('shows an organization its period, matching the API, with the chart and forecast, and downloads the CSV', async () => {
    const page = await newPage();
    await page.goto(`${baseUrl}/dashboard`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'sign-in', { docs: true });

    provoke(page, (url, status) => url.pathname === '/api/dashboard/session' && status === 401);
    await page.fill('#api-key', 'nxk_not-a-real-key');
    await page.click('form.sign-in button[type=submit]');
    await page.waitForSelector('#sign-in-error:has-text("not valid")');

    const forecastResponse = page.waitForResponse((r) => r.url().includes(`/api/organizations/${orgId}/usage/forecast`));
    await signIn(page, baseUrl, orgKey);
    const forecast = await (await forecastResponse).json();
    await page.waitForSelector('#usage-chart canvas');
    await page.waitForSelector('#event-log-table tbody tr');
    expect(page.url()).toBe(`${baseUrl}/dashboard#/org/${orgId}`);

    const summary = (await t.http().get(`/api/organizations/${orgId}/usage`).set({ Authorization: `Bearer ${orgKey}` }).expect(200)).body;
    expect(summary.overage.credits).toBeGreaterThan(0);
    expect(await text(page, '[data-testid=kpi-used] .kpi-value')).toBe(formatCredits(summary.used));
    expect(await text(page, '[data-testid=kpi-allowance] .kpi-value')).toBe(formatCredits(summary.allowance));
    expect(await text(page, '[data-testid=kpi-topups] .kpi-value')).toBe(formatCredits(summary.topUpsUsed));
    expect(await text(page, '[data-testid=kpi-overage] .kpi-value')).toBe(formatCredits(summary.overage.credits));
    expect(await text(page, '[data-testid=overage-cost]')).toBe(formatUsd(summary.overage.cost));
    expect(await text(page, '[data-testid=kpi-remaining] .kpi-value')).toBe(formatCredits(summary.remaining));
    expect(await text(page, '[data-testid=kpi-days-left] .kpi-value')).toBe(String(wholeDaysLeft(forecast.daysRemaining)));

    // The chart: drawn (pixels of the used and forecast colours on the canvas), its numbers those of the API.
    expect(await pixelsOfColour(page, [0x1d, 0x4e, 0xd8])).toBeGreaterThan(50);
    expect(await pixelsOfColour(page, [0xc2, 0x41, 0x0c])).toBeGreaterThan(20);
    // One credits axis (uPlot draws the x axis and one y axis), the legend's values shown without hovering.
    expect(await page.$$eval('#usage-chart .u-axis', (axes) => axes.length)).toBe(2);
    expect(await page.$$('#usage-chart .u-legend')).toHaveLength(0);
    const legend = await text(page, '#chart-legend');
    expect(legend).toContain(`Forecast at period end ${formatCredits(forecast.projectedTotal)}`);
    expect(legend).toContain(`Forecast range ${formatCredits(forecast.range.low)} – ${formatCredits(forecast.range.high)}`);
    expect(legend).toContain(`Allowance ${formatCredits(summary.allowance)}`);
    expect(legend).toContain(`Used so far ${formatCredits(summary.used)}`);
    // The forecast's basis: days of data, the rate, and a range around the projection.
    const basis = await text(page, '#forecast-basis');
    expect(forecast.daysOfData).toBeLessThan(7);
    expect(basis).toContain('An early estimate: fewer than 7 days of data');
    expect(basis).toContain(`rate ${formatCredits(forecast.dailyRate)} credits a day`);
    expect(forecast.range.low).toBeLessThanOrEqual(forecast.projectedTotal);
    expect(forecast.range.high).toBeGreaterThanOrEqual(forecast.projectedTotal);
    const lastRowCells = await page.$$eval('#chart-data tbody tr:last-child td', (cells) => cells.map((c) => (c.textContent ?? '').trim()));
    expect(lastRowCells[2]).toBe(formatCredits(forecast.projectedTotal));
    const caption = await text(page, '#forecast-caption');
    expect(caption).toContain(formatCredits(forecast.projectedTotal));
    expect(caption).toContain(`likely between ${formatCredits(forecast.range.low)} and ${formatCredits(forecast.range.high)}`);
    // Starter has overage: the allowance used up is said as a fact ("used up"), never as a date it "runs out".
    expect(forecast.hardCapCredits).toBeNull();
    if (forecast.exhaustion === 'reached') {
      expect(caption).toContain('the allowance is used up: further usage is overage');
      expect(caption).not.toContain('runs out');
    } else if (forecast.exhaustion === 'projected') expect(caption).toMatch(/runs out (today|on)/);
    // The overage is real here: shown in alarm red.
    expect(await page.getAttribute('[data-testid=kpi-overage]', 'class')).toContain('alarm');
    expect(await page.evaluate(`getComputedStyle(document.querySelector('[data-testid=kpi-overage] .kpi-value')).color`)).toBe('rgb(153, 27, 27)');

    // Breakdowns, invoice and recommendation are the API's.
    expect(await text(page, '[data-testid=breakdown-user]')).toContain('ana');
    const invoice = (await t.http().get(`/api/organizations/${orgId}/usage/invoice`).set(ADMIN).expect(200)).body;
    expect(await text(page, '[data-testid=invoice-total]')).toBe(formatUsd(invoice.total));
    // Under 7 days of data the page never tells the customer to switch plans; the rule is on the card.
    const recommendation = (await t.http().get(`/api/organizations/${orgId}/usage/recommendation`).set(ADMIN).expect(200)).body;
    expect(recommendation.evidence.supported).toBe(false);
    expect(await text(page, '#recommendation-headline')).not.toContain('Switch to');
    expect(await text(page, '#recommendation-reason')).toContain(recommendation.evidence.reason);
    expect(await text(page, '#recommendation-rule')).toContain('at least 7 days of data');
    // Display names, not raw ids, in the breakdown and the event log.
    expect(await text(page, '[data-testid=breakdown-eventType] tbody')).toContain('Structuring: Generate solution');
    expect(await text(page, '[data-testid=breakdown-eventType] tbody')).not.toContain('structuring_generate_solution');
    expect(await text(page, '#event-log-table tbody tr:first-child td:nth-child(2)')).toBe('Structuring: Generate solution');
    // Each notice once: the current period's thresholds in the list, the table only for earlier periods.
    const notices = await page.$$eval('#active-warnings li', (items) => items.map((i) => (i.textContent ?? '').trim()));
    expect(notices.length).toBeGreaterThan(0);
    expect(new Set(notices).size).toBe(notices.length);
    // Each notice says whose allowance it was about (a plan change gives the new allowance its own crossings).
    for (const notice of notices) expect(notice).toContain("of the starter plan's allowance reached");
    expect(summary.warnings.every((w: { plan: string | null }) => w.plan === 'starter')).toBe(true);
    const listedPeriods = await page.$$eval('#notifications-table tbody td:nth-child(2)', (cells) => cells.map((c) => (c.textContent ?? '').trim()));
    expect(listedPeriods).not.toContain(summary.period.start.slice(0, 7));

    // The upcoming invoice as line items in money: the plan fee, overage by event type, top-ups, the total.
    await page.waitForSelector('#invoice-lines tr[data-kind=total]');
    const invoiceRows = await page.$$eval('#invoice-lines tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-kind'), ...[...r.children].map((c) => (c.textContent ?? '').trim())]));
    expect(invoiceRows[0]).toEqual(['plan', `Plan fee: ${invoice.plan}`, '', formatUsd(invoice.planPrice)]);
    expect(invoiceRows.filter((r) => r[0] === 'overage').map((r) => r[1])).toEqual(['Overage: Structuring: Generate solution']);
    expect(invoiceRows.find((r) => r[0] === 'overage')![3]).toBe(formatUsd(invoice.overageCost));
    expect(invoiceRows.find((r) => r[0] === 'topups')).toEqual(['topups', 'Top-up credits used', `${formatCredits(invoice.topUpCredits)} credits, prepaid`, formatUsd(0)]);
    expect(invoiceRows[invoiceRows.length - 1]).toEqual(['total', 'Total', '', formatUsd(invoice.total)]);
    // Top-ups: amount, used, remaining, expiry, the API's figures.
    const grants = (await t.http().get(`/api/organizations/${orgId}/credits`).set({ Authorization: `Bearer ${orgKey}` }).expect(200)).body;
    const grantCells = await page.$$eval('#credits-table tbody tr:first-child td', (cells) => cells.map((c) => (c.textContent ?? '').trim()));
    expect(grantCells[0]).toContain('launch promotion');
    expect(grantCells.slice(1, 5)).toEqual([formatCredits(grants.items[0].amount), formatCredits(grants.items[0].used), formatCredits(grants.items[0].remaining), 'never']);
    expect(grantCells[5]).toBe('used up');
    expect(await text(page, '#credits-expiring')).toBe('Nothing expires within 7 days.');
    // Cost per event type and per user: shares of the invoice total that add up to it; the previous period had no usage.
    const typeCost = await page.$$eval('#cost-by-event-type tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => (c.textContent ?? '').trim())));
    expect(typeCost).toEqual([['Structuring: Generate solution', formatCredits(summary.used), formatUsd(invoice.total), '–', '–']]);
    const userCosts = await page.$$eval('#cost-by-user tbody tr td:nth-child(3)', (cells) => cells.map((c) => Number((c.textContent ?? '').replace(/[$,]/g, ''))));
    expect(userCosts).toHaveLength(3);
    expect(Math.round(userCosts.reduce((a, b) => a + b, 0) * 100)).toBe(Math.round(invoice.total * 100));
    expect(await text(page, '#costs')).toContain('no usage then, nothing to compare');
    // Which key spent what: the API's figures; the events above were tracked with the admin key.
    const perKey = (await t.http().get(`/api/organizations/${orgId}/usage/api-keys`).set({ Authorization: `Bearer ${orgKey}` }).expect(200)).body;
    const keyRows = await page.$$eval('#api-key-usage-table tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => (c.textContent ?? '').trim())));
    expect(keyRows.map((r) => r.slice(0, 3))).toEqual([
      ...perKey.items.map((k: { name: string; prefix: string; events: number; credits: number }) => [`${k.name} (${k.prefix})`, String(k.events), formatCredits(k.credits)]),
      ['Admin key (no organization key)', String(perKey.unattributed.events), formatCredits(perKey.unattributed.credits)],
    ]);
    // Today hour by hour, the API's numbers.
    const hourly = (await t.http().get(`/api/organizations/${orgId}/usage/hourly`).set({ Authorization: `Bearer ${orgKey}` }).expect(200)).body;
    expect(hourly.totals.credits).toBeGreaterThan(0);
    expect(await text(page, '#hourly-summary')).toContain(`${formatCredits(hourly.totals.credits)} credits`);
    expect(await page.$$eval('.hour-bar', (bars) => bars.length)).toBe(24);
    expect(await text(page, '#reports')).toContain('No closed period yet');
    // The budgets card: used / limit per member, the API's figures (read scope).
    const budgets = (await t.http().get(`/api/organizations/${orgId}/usage/budgets`).set({ Authorization: `Bearer ${orgKey}` }).expect(200)).body;
    expect(budgets.items).toHaveLength(1);
    await page.waitForSelector('#budgets-table tbody tr');
    const budgetRow = await page.$$eval('#budgets-table tbody tr td', (cells) => cells.map((c) => (c.textContent ?? '').trim()));
    expect(budgetRow.slice(0, 3)).toEqual(['Member ana', 'per month', `${formatCredits(budgets.items[0].used)} / ${formatCredits(1000)}`]);
    expect(budgets.items[0].used).toBe(424);

    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'organization', { docs: true });
    await screenshot(page, 'organization-full', { fullPage: true });

    // CSV of the (unfiltered) event log: a header and one line per event.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    expect(download.suggestedFilename()).toBe(`usage-events-${orgId}.csv`);
    const csvPath = join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(csvPath);
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    expect(lines[0]).toContain('event_type');
    expect(lines).toHaveLength(trackedEvents + 1);

    // The invoice's printable view (what a closed month's "Invoice" button opens too), without the page chrome in print.
    await page.click('#printable-invoice');
    await page.waitForSelector('#printable-invoice-view [data-testid=invoice-total]');
    expect(await text(page, '#printable-invoice-view [data-testid=invoice-total]')).toBe(formatUsd(invoice.total));
    expect(await text(page, '#invoice-title')).toBe(`Invoice ${invoice.period}`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.emulateMedia({ media: 'print' });
    expect(await page.evaluate(`getComputedStyle(document.querySelector('header.topbar')).display`)).toBe('none');
    expect(await page.evaluate(`getComputedStyle(document.querySelector('#print-invoice')).display`)).toBe('none');
    await screenshot(page, 'invoice-print', { docs: true });
    await page.emulateMedia({ media: 'screen' });
    await page.goBack();
    await page.waitForSelector('#event-log-table tbody tr');

    // Filters: one user's events only.
    await page.fill('#event-log input[name=userId]', 'ben');
    await page.click('#event-log button[type=submit]');
    await page.waitForSelector('#event-log-status:has-text("8 events shown")');

    // At 1366 px the by-event-type table fits its card: no column (Share included) is clipped or scrolled away.
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.waitForTimeout(200);
    expect(await page.$eval('[data-testid=breakdown-eventType] .table-wrap', (el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
    expect(await fitsWidth(page)).toBe(true);

    // A phone's width: one column, nothing wider than the screen.
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(200);
    expect(await fitsWidth(page)).toBe(true);
    await screenshot(page, 'organization-phone', { docs: true });
    await page.close();
  });

  it('tells the customer to switch plans only when the evidence supports it, with the saving as a range', async () => {
    // The rule itself is a table test (recommendation-evidence.spec.ts); here the page's rendering of a
    // supported recommendation, the API's answer rewritten as a period with enough data would give it.
    const page = await newPage();
    await page.route('**/usage/recommendation', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.shouldChange = true;
      body.recommendedPlan = 'professional';
      body.evidence = { ...body.evidence, supported: true, daysOfData: 9.5, savingRange: { low: 10, high: 30 }, checks: { enoughData: true, cheaperAcrossRange: true }, reason: 'Based on 9.5 days of data: professional is cheaper across the forecast range' };
      await route.fulfill({ response, json: body });
    });
    await signIn(page, baseUrl, orgKey);
    await page.waitForSelector('#recommendation-headline.good');
    expect(await text(page, '#recommendation-headline')).toBe('Switch to professional: saves $10.00 to $30.00 this period');
    expect(await text(page, '#plan-options')).toContain('best');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.close();
  });

  it('lists past invoices (closed months) and opens each in the printable view', async () => {
    // A closed month needs a period that ended before this suite's real clock and an organization that existed
    // then; the listing and that month's frozen invoice are stubbed in the API's shapes, so what is exercised is
    // the page: the past invoices' list, its link, and the printable view of a final invoice.
    const page = await newPage();
    const previousMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    const frozen = { organizationId: orgId, period: previousMonth, status: 'final', billingCycle: 'monthly', currency: 'USD', plan: 'starter', planPrice: 19, includedCredits: 1000, usedCredits: 42, overageCredits: 0, overageRate: 0.02, overageCost: 0, topUpCredits: 0, total: 19 };
    await page.route('**/usage/reports', (route) => route.fulfill({ json: { items: [{ period: previousMonth, totals: { events: 3, credits: 42 }, invoiceTotal: 19 }] } }));
    await page.route(`**/usage/invoice?period=${previousMonth}`, (route) => route.fulfill({ json: frozen }));
    await signIn(page, baseUrl, orgKey);
    await page.waitForSelector('#reports-table tbody tr');
    expect(await text(page, '#reports-table tbody tr td:nth-child(1)')).toBe(previousMonth);
    await page.click('#reports-table tbody tr a:has-text("Invoice")');
    await page.waitForSelector('#printable-invoice-view');
    expect(page.url()).toBe(`${baseUrl}/dashboard#/org/${orgId}/invoice/${previousMonth}`);
    expect(await text(page, '#invoice-title')).toBe(`Invoice ${previousMonth}`);
    expect(await text(page, '#printable-invoice-view .invoice-meta')).toContain('final');
    const rows = await page.$$eval('#invoice-lines tbody tr', (trs) => trs.map((r) => r.getAttribute('data-kind')));
    expect(rows).toEqual(['plan', 'total']);
    expect(await text(page, '#printable-invoice-view [data-testid=invoice-total]')).toBe(formatUsd(19));
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.close();
  });

  it('lets the operator change a price, charges the new price, refuses an invalid edit, and rolls back', async () => {
    const page = await newPage();
    await signIn(page, baseUrl, ADMIN_KEY);
    await page.waitForSelector('#organizations-table');
    await page.goto(`${baseUrl}/dashboard#/admin/events`);
    const row = 'tr[data-key=visuals_planning]';
    await page.waitForSelector(row);
    expect(await text(page, `${row} [data-testid=base-credits]`)).toBe('8.00');
    expect(await text(page, `${row} [data-testid=unit-prices]`)).toBe('–');
    // Priced quantities: the seeded LLM event's unit prices, the API's figures.
    const llm = (await t.http().get('/api/admin/events/llm_completion').set(ADMIN).expect(200)).body;
    const unitText = await text(page, 'tr[data-key=llm_completion] [data-testid=unit-prices]');
    for (const [name, rate] of Object.entries(llm.units as Record<string, number>)) expect(unitText).toContain(`${name} ${rate}`);
    for (const [name, n] of Object.entries((llm.maxUnits ?? {}) as Record<string, number>)) expect(unitText).toContain(`${name} ${n}`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'events', { docs: true });

    // At 1,400 px the event definitions fit their card: no sideways scroll, and every row's History button in view.
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.waitForTimeout(200);
    const layout = (await page.evaluate(`(() => {
      const wrap = document.querySelector('#events-table').closest('.table-wrap').getBoundingClientRect();
      const table = document.querySelector('#events-table');
      const buttons = [...document.querySelectorAll('#events-table button[data-action=history]')].map((b) => b.getBoundingClientRect());
      return { fits: table.scrollWidth <= table.parentElement.clientWidth + 1, tableWidth: table.scrollWidth, buttons: buttons.length, outside: buttons.filter((b) => b.right > wrap.right + 1 || b.left < wrap.left - 1 || b.width === 0).length };
    })()`)) as { fits: boolean; tableWidth: number; buttons: number; outside: number };
    expect(layout.buttons).toBeGreaterThan(3);
    expect(layout).toMatchObject({ fits: true, outside: 0 });
    expect(layout.tableWidth).toBeLessThanOrEqual(1400);
    await page.setViewportSize(LAPTOP);

    // Change baseCredits 8 -> 9.5.
    await page.click(`${row} button[data-action=edit]`);
    await page.fill('form[data-editor=visuals_planning] [data-field=baseCredits] input', '9.5');
    await page.click('form[data-editor=visuals_planning] button[type=submit]');
    await page.waitForSelector(`${row} [data-testid=base-credits]:has-text("9.50")`);
    expect(await text(page, `${row} td:nth-child(8)`)).toBe('v2');

    // The next event tracked through the API pays the new price.
    const priced = await t.http().post(`/api/organizations/${orgId}/usage/events`).set({ Authorization: `Bearer ${orgKey}` }).send({ eventType: 'visuals_planning', eventData: { complexity: 1 } }).expect(201);
    expect(priced.body.creditsConsumed).toBe(9.5);
    expect(priced.body.breakdown.version).toBe(2);
    // ... and the organization's event log in the dashboard shows it.
    await page.fill('#org-picker', orgId);
    await page.click('form.org-picker button[type=submit]');
    await page.waitForSelector('#event-log-table tbody tr');
    const newest = await page.$$eval('#event-log-table tbody tr:first-child td', (cells) => cells.map((c) => (c.textContent ?? '').trim()));
    expect(newest[1]).toBe('Visuals: Planning');
    expect(newest[4]).toBe('9.50');
    expect(newest[6]).toBe('2');

    // An invalid edit: the API's messages appear next to the fields and nothing changes.
    await page.goto(`${baseUrl}/dashboard#/admin/events`);
    await page.waitForSelector(row);
    await page.click(`${row} button[data-action=edit]`);
    const form = 'form[data-editor=visuals_planning]';
    provoke(page, (url, status, method) => method === 'PUT' && url.pathname === '/api/admin/events/visuals_planning' && status === 400);
    await page.fill(`${form} [data-field=baseCredits] input`, '-5');
    await page.fill(`${form} [data-field="multipliers.complexity.min"] input`, '5');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector(`${form} [data-field=baseCredits] .field-error:not([hidden])`);
    expect(await text(page, `${form} [data-field=baseCredits] .field-error`)).toBe('baseCredits must be >= 0');
    expect(await text(page, `${form} [data-field="multipliers.complexity"] > .field-error`)).toContain('multipliers.complexity.min must be <= multipliers.complexity.max');
    expect(await page.getAttribute(`${form} [data-field=baseCredits] input`, 'aria-invalid')).toBe('true');
    expect(await text(page, `${form} .form-error`)).toContain('unchanged');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'events-invalid-edit', { docs: true });
    const unchanged = (await t.http().get('/api/admin/events/visuals_planning').set(ADMIN).expect(200)).body;
    expect(unchanged).toMatchObject({ baseCredits: 9.5, version: 2, multipliers: { complexity: { min: 1, max: 2 } } });
    expect((await t.http().get('/api/admin/events/visuals_planning/history').set(ADMIN).expect(200)).body.count).toBe(2);

    // One-click rollback to version 1: the old price is back (as version 3) and charged.
    await page.click(`${row} button[data-action=history]`);
    await page.waitForSelector('table.history tr[data-version="1"] button[data-rollback]');
    await screenshot(page, 'events-history');
    await page.click('table.history tr[data-version="1"] button[data-rollback]');
    await page.waitForSelector(`${row} [data-testid=base-credits]:has-text("8.00")`);
    expect(await text(page, `${row} td:nth-child(8)`)).toBe('v3');
    expect((await t.http().get('/api/admin/events/visuals_planning').set(ADMIN).expect(200)).body).toMatchObject({ baseCredits: 8, version: 3 });
    const back = await t.http().post(`/api/organizations/${orgId}/usage/events`).set({ Authorization: `Bearer ${orgKey}` }).send({ eventType: 'visuals_planning', eventData: { complexity: 1 } }).expect(201);
    expect(back.body.creditsConsumed).toBe(8);
    await page.close();
  });

  it('gives the operator plans, organizations (keys shown once), jobs with run-now and the cache', async () => {
    const page = await newPage();
    await signIn(page, baseUrl, ADMIN_KEY);

    await page.goto(`${baseUrl}/dashboard#/admin/plans`);
    await page.waitForSelector('tr[data-key=starter]');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'plans', { docs: true });

    // Organizations: an invalid id is refused next to its field; a valid one is created.
    await page.goto(`${baseUrl}/dashboard#/admin/organizations`);
    await page.waitForSelector('#create-organization-form');
    provoke(page, (url, status, method) => method === 'POST' && url.pathname === '/api/admin/organizations' && status === 400);
    await page.fill('#create-organization-form input[name=id]', 'not valid!');
    await page.fill('#create-organization-form input[name=name]', 'Browser Test Co');
    await page.click('#create-organization-form button[type=submit]');
    await page.waitForSelector('#create-organization-form [data-field=id] .field-error:not([hidden])');
    const newId = `${orgId}-b`;
    await page.fill('#create-organization-form input[name=id]', newId);
    await page.click('#create-organization-form button[type=submit]');
    const orgRow = `#organizations-table tr[data-key="${newId}"]`;
    await page.waitForSelector(orgRow);
    await t.http().get(`/api/admin/organizations/${newId}`).set(ADMIN).expect(200);
    // Each organization's period at a glance: used, remaining and status, the API's figures; sortable (the
    // list now holds the suite's organization, in overage, and the new one, which used nothing).
    await page.waitForSelector(`#organizations-table tr[data-key="${orgId}"]`);
    const dashSummary = (await t.http().get(`/api/organizations/${orgId}/usage`).set(ADMIN).expect(200)).body;
    const dashRow = `#organizations-table tr[data-key="${orgId}"]`;
    expect(await text(page, `${dashRow} [data-testid=org-used]`)).toBe(`${formatCredits(dashSummary.used)} (${dashSummary.percentUsed}%)`);
    expect(await text(page, `${dashRow} [data-testid=org-remaining]`)).toBe(formatCredits(dashSummary.remaining));
    expect(await text(page, `${dashRow} [data-testid=org-status]`)).toBe('in overage');
    const listed = (await t.http().get('/api/admin/organizations').set(ADMIN).expect(200)).body.items as Array<{ id: string; usage: { used: number; status: string } }>;
    expect(listed.find((o) => o.id === orgId)!.usage).toMatchObject({ used: dashSummary.used, remaining: dashSummary.remaining, status: 'overage' });
    const firstKey = () => page.$eval('#organizations-table tbody tr[data-key]', (r) => r.getAttribute('data-key'));
    await page.click('th[data-sort=used] button');
    expect(await page.getAttribute('th[data-sort=used]', 'aria-sort')).toBe('descending');
    expect(await firstKey()).toBe([...listed].sort((a, b) => b.usage.used - a.usage.used || (a.id < b.id ? -1 : 1))[0].id);
    await page.click('th[data-sort=used] button');
    expect(await page.getAttribute('th[data-sort=used]', 'aria-sort')).toBe('ascending');
    expect(await firstKey()).not.toBe(orgId);
    await page.click('th[data-sort=status] button');
    expect(await firstKey()).toBe(orgId);

    // Manage it: change plan, grant credits, create a key (shown once) and revoke it.
    await page.click(`${orgRow} button[data-action=manage]`);
    const manage = `${orgRow} + tr.detail`;
    await page.selectOption(`${manage} form[data-form=plan] select[name=plan]`, 'professional');
    await page.click(`${manage} form[data-form=plan] button[type=submit]`);
    await page.waitForSelector(`${orgRow} td:nth-child(3):has-text("professional")`);
    await page.fill(`${manage} form[data-form=credits] input[name=amount]`, '250');
    await page.click(`${manage} form[data-form=credits] button[type=submit]`);
    await page.waitForSelector(`${manage} td:has-text("250.00")`);
    await page.fill(`${manage} form[data-form=api-key] input[name=name]`, 'ci');
    await page.click(`${manage} form[data-form=api-key] button[type=submit]`);
    const key = await text(page, `${manage} [data-testid=new-key]`);
    expect(key).toMatch(/^nxk_/);
    await t.http().get(`/api/organizations/${newId}/usage`).set({ Authorization: `Bearer ${key}` }).expect(200);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'organizations', { docs: true });
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click(`${manage} button[data-revoke]`);
    await page.waitForSelector(`${manage} .badge:has-text("revoked")`);
    await t.http().get(`/api/organizations/${newId}/usage`).set({ Authorization: `Bearer ${key}` }).expect(401);
    expect((await t.http().get(`/api/admin/organizations/${newId}`).set(ADMIN).expect(200)).body.plan).toBe('professional');

    // A key "for the client package": track alone, which is all the client needs (it learns its organization
    // from GET /api/key); the dashboard's session (read) refuses it.
    await page.selectOption(`${manage} form[data-form=api-key] select[name=purpose]`, 'client');
    expect(await page.inputValue(`${manage} form[data-form=api-key] input[name=name]`)).toBe('client package');
    expect(await page.$$eval(`${manage} form[data-form=api-key] input[name=scopes]:checked`, (boxes) => boxes.map((b) => (b as unknown as { value: string }).value))).toEqual(['track']);
    await page.click(`${manage} form[data-form=api-key] button[type=submit]`);
    await page.waitForSelector(`${manage} [data-testid=new-key]:not(:has-text("${key}"))`);
    const clientKey = await text(page, `${manage} [data-testid=new-key]`);
    await t.http().get('/api/key').set({ Authorization: `Bearer ${clientKey}` }).expect(200, { kind: 'organization', organizationId: newId, scopes: ['track'] });
    await t.http().get('/api/dashboard/session').set({ Authorization: `Bearer ${clientKey}` }).expect(403);

    // A customer portal link: created here, opened in a new tab without any key, read-only, this organization only.
    await page.selectOption(`${manage} form[data-form=portal] select[name=ttlMinutes]`, '15');
    await page.click(`${manage} form[data-form=portal] button[type=submit]`);
    const portalUrl = await text(page, `${manage} [data-testid=portal-url]`);
    expect(portalUrl).toMatch(new RegExp(`^${baseUrl}/dashboard#portal=nxp_[A-Za-z0-9_-]{43}$`));
    expect(await seriousAxeViolations(page)).toEqual([]);
    const customer = await newPage();
    await customer.goto(portalUrl);
    await customer.waitForSelector('#event-log-table, #event-log-status:has-text("No events")');
    expect(customer.url()).toBe(`${baseUrl}/dashboard#/org/${newId}`);
    expect(customer.url()).not.toContain('nxp_');
    expect(await text(customer, '#portal-notice')).toContain(`Read-only link for ${newId}`);
    expect(await customer.$('#api-key')).toBeNull();
    expect(await text(customer, '[data-testid=kpi-allowance] .kpi-value')).toBe(formatCredits(5000));
    expect(await text(customer, '#forecast-basis')).toContain('No usage recorded this period yet');
    expect(await seriousAxeViolations(customer)).toEqual([]);
    await screenshot(customer, 'portal', { docs: true });
    // Another organization's page is not reachable from the link: the page goes back to its own.
    provoke(customer, (url, status) => url.pathname.startsWith(`/api/organizations/${orgId}/`) && status === 404);
    await customer.goto(`${baseUrl}/dashboard#/org/${orgId}`);
    await customer.waitForFunction(`location.hash === ${JSON.stringify(`#/org/${newId}`)}`);
    await customer.close();
    // A made-up link lands on the sign-in page with the reason.
    const stranger = await newPage();
    provoke(stranger, (url, status) => url.pathname === '/api/dashboard/session' && status === 401);
    await stranger.goto(`${baseUrl}/dashboard#portal=nxp_${'x'.repeat(43)}`);
    await stranger.waitForSelector('#sign-in-error:has-text("expired or is not valid")');
    expect(stranger.url()).not.toContain('nxp_');
    expect(await seriousAxeViolations(stranger)).toEqual([]);
    await stranger.close();

    // Organizations: search by id or name, and page through many (50 a page).
    const manyPrefix = `${orgId}-many`;
    for (let i = 0; i < 55; i++) {
      await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: `${manyPrefix}-${String(i).padStart(2, '0')}`, name: i === 42 ? 'Initech Holdings' : `Many ${i}`, plan: 'free' }).expect(201);
    }
    await page.goto(`${baseUrl}/dashboard#/admin/organizations`);
    await page.waitForSelector('#organizations-status:has-text("Page 1")');
    await page.fill('#organizations-search', manyPrefix);
    await page.click('#organizations-search-form button[type=submit]');
    await page.waitForSelector(`#organizations-status:has-text('organizations 1–50 matching "${manyPrefix}", more on the next page')`);
    expect(await page.$$eval('#organizations-table tbody tr[data-key]', (rows) => rows.length)).toBe(50);
    await page.click('#organizations-next');
    await page.waitForSelector('#organizations-status:has-text("Page 2: organizations 51–55")');
    expect(await page.$$eval('#organizations-table tbody tr[data-key]', (rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual([50, 51, 52, 53, 54].map((i) => `${manyPrefix}-${i}`));
    expect(await page.isDisabled('#organizations-next')).toBe(true);
    await page.click('#organizations-previous');
    await page.waitForSelector('#organizations-status:has-text("Page 1")');
    await page.fill('#organizations-search', 'initech');
    await page.click('#organizations-search-form button[type=submit]');
    await page.waitForSelector('#organizations-status:has-text("organizations 1–1")');
    expect(await page.$$eval('#organizations-table tbody tr[data-key]', (rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual([`${manyPrefix}-42`]);
    await page.fill('#organizations-search', 'no-such-organization');
    await page.click('#organizations-search-form button[type=submit]');
    await page.waitForSelector('#organizations-status:has-text("No organization matches")');
    expect(await seriousAxeViolations(page)).toEqual([]);

    // Jobs: a ledger that does not reconcile shows up as an alert saying what it means.
    const broken = await createOrganization(t, 'dash-broken', 'starter');
    await t.http().post(`/api/organizations/${broken}/usage/events`).set(ADMIN).send({ eventType: 'visuals_planning', eventData: { complexity: 1 } }).expect(201);
    await t.dataSource.query(`UPDATE period_balances SET consumed = consumed + 100, allowance_used = allowance_used + 100 WHERE organization_id = $1`, [broken]);
    await page.goto(`${baseUrl}/dashboard#/admin/jobs`);
    await page.waitForSelector('button[data-run=ledger-reconciliation]');
    await page.click('button[data-run=ledger-reconciliation]');
    await page.waitForSelector(`#alerts-table tr:has(a:has-text("${broken}")) [data-alert-kind=balance_mismatch]`);
    const alertRow = await text(page, `#alerts-table tr:has(a:has-text("${broken}"))`);
    expect(alertRow).toContain('Balance differs from the ledger');
    expect(alertRow).toContain('is not the sum of the period');
    expect(await text(page, '#alerts-summary')).toMatch(/^\d+ open alerts?: the ledger does not reconcile/);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'jobs-alerts', { fullPage: true });

    // Jobs: run one now; its manual run is listed.
    await page.goto(`${baseUrl}/dashboard#/admin/jobs`);
    await page.waitForSelector('button[data-run=rollup-refresh]');
    await page.click('button[data-run=rollup-refresh]');
    await page.waitForSelector('[data-testid=last-run-rollup-refresh]:has-text("manual")');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'jobs', { docs: true });

    // Cache: statistics, and a refresh counts.
    await page.goto(`${baseUrl}/dashboard#/admin/cache`);
    await page.waitForSelector('#cache-table');
    const before = (await t.http().get('/api/admin/cache').set(ADMIN).expect(200)).body.events.refreshes;
    await page.click('#refresh-cache');
    await page.waitForSelector('#toast:has-text("Reloaded")');
    expect((await t.http().get('/api/admin/cache').set(ADMIN).expect(200)).body.events.refreshes).toBeGreaterThan(before);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'cache', { docs: true });

    await page.setViewportSize(PHONE);
    await page.goto(`${baseUrl}/dashboard#/admin/events`);
    await page.waitForSelector('tr[data-key=visuals_planning]');
    expect(await fitsWidth(page)).toBe(true);
    await screenshot(page, 'events-phone');
    await page.close();
  });

  it('compares the month with the previous one through valid requests, and shows a failed call where its data would be', async () => {
    const page = await newPage();
    const now = new Date();
    const prevStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const prevKey = prevStart.toISOString().slice(0, 7);
    const prevFrom = prevStart.toISOString().slice(0, 10);
    const breakdownUrls: URL[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.endsWith('/usage/breakdown')) breakdownUrls.push(url);
    });
    // The previous month had usage (stubbed in the API's shapes: this suite's organization is new): its
    // breakdowns and its invoice, so the page compares against it.
    const previousBreakdown = (groupBy: string) => ({
      organizationId: orgId,
      groupBy,
      from: prevFrom,
      to: prevFrom,
      totals: { events: 2, credits: 100, overageCredits: 0 },
      items: [groupBy === 'user' ? { userId: 'ana', events: 2, credits: 100, overageCredits: 0, percent: 100 } : { eventType: 'structuring_generate_solution', displayName: 'Structuring: Generate solution', events: 2, credits: 100, overageCredits: 0, percent: 100 }],
    });
    await page.route('**/usage/breakdown?*', async (route) => {
      const url = new URL(route.request().url());
      if (url.searchParams.get('from') !== prevFrom) return route.continue();
      await route.fulfill({ json: previousBreakdown(url.searchParams.get('groupBy')!) });
    });
    const previousInvoice = { organizationId: orgId, period: prevKey, status: 'final', billingCycle: 'monthly', currency: 'USD', plan: 'starter', planPrice: 19, includedCredits: 1000, usedCredits: 100, overageCredits: 0, overageRate: 0.02, overageCost: 0, topUpCredits: 0, total: 19 };
    await page.route(`**/usage/invoice?period=${prevKey}`, (route) => route.fulfill({ json: previousInvoice }));
    // A call that fails: its card says so, in place.
    await page.route('**/usage/hourly', (route) => route.fulfill({ status: 503, json: { statusCode: 503, error: 'INTERNAL', message: 'Hourly figures are resting' } }));
    provoke(page, (url, status) => url.pathname.endsWith('/usage/hourly') && status === 503);

    await signIn(page, baseUrl, orgKey);
    await page.waitForSelector('#cost-by-event-type tbody tr');
    expect(await text(page, '#costs')).toContain(`against ${prevKey} (${formatUsd(19)})`);
    const typeRow = await page.$$eval('#cost-by-event-type tbody tr:first-child td', (cells) => cells.map((c) => (c.textContent ?? '').trim()));
    expect(typeRow[3]).toBe(formatUsd(19));
    // Every breakdown the page asked is a valid query: no stray `key` (it was 400 "property key should not exist").
    expect(breakdownUrls.length).toBeGreaterThan(3);
    for (const url of breakdownUrls) expect([...url.searchParams.keys()].every((k) => ['groupBy', 'from', 'to'].includes(k))).toBe(true);
    await page.waitForSelector('#hourly [role=alert]');
    expect(await text(page, '#hourly [role=alert]')).toContain('Hourly figures are resting');
    await page.close();

    // The previous month's breakdown failing: the cost card shows the error, not "no usage then".
    const failing = await newPage();
    await failing.route('**/usage/breakdown?*', async (route) => {
      const url = new URL(route.request().url());
      if (url.searchParams.get('from') !== prevFrom) return route.continue();
      await route.fulfill({ status: 500, json: { statusCode: 500, error: 'INTERNAL', message: 'The rollups are away' } });
    });
    provoke(failing, (url, status) => url.pathname.endsWith('/usage/breakdown') && url.searchParams.get('from') === prevFrom && status === 500);
    await signIn(failing, baseUrl, orgKey);
    await failing.waitForSelector('#costs [role=alert]');
    expect(await text(failing, '#costs')).toContain('The rollups are away');
    expect(await text(failing, '#costs')).not.toContain('no usage then');
    await failing.close();
  });

  it("never projects a hard-capped organization past its cap, and says when the cap is reached or that it was", async () => {
    // The server's clock held at one instant for this test: an organization made at 23:59:59 UTC and
    // forecast at 00:00:01 would be observed for a day and more (its first day began the day before), and
    // its spend would belong to yesterday (or to last month on the 1st).
    const at = Date.now();
    clock.pin(new Date(at));
    try {
      await hardCappedForecast(at);
    } finally {
      clock.pin(undefined);
    }
  });

  async function hardCappedForecast(at: number): Promise<void> {
    // Free plan: 100 credits, hard cap. structuring_diagnose at complexity 2 with echo costs 25.
    const spend = async (org: string, events: number) => {
      const res = await t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ events: Array.from({ length: events }, () => ({ eventType: 'structuring_diagnose', eventData: { complexity: 2, echo: true } })) }).expect(200);
      expect(res.body.results.every((r: { status: string }) => r.status === 'accepted')).toBe(true);
    };
    const young = await createOrganization(t, 'dash-free', 'free');
    await spend(young, 2);
    const youngKey = (await issueKey(t, young, ['read'], 'page')).key;
    const page = await newPage();
    const forecastResponse = page.waitForResponse((r) => r.url().includes(`/api/organizations/${young}/usage/forecast`));
    await signIn(page, baseUrl, youngKey);
    const forecast = await (await forecastResponse).json();
    await page.waitForSelector('#forecast-caption');
    // Its hours of data, not 7 days: the rate divides by the days really observed (today so far, an hour at least).
    expect(forecast.basis.rateDays).toBe(Math.round(Math.max(1 / 24, (at % DAY_MS) / DAY_MS) * 100) / 100);
    expect(forecast.basis.rateDays).toBeLessThan(1);
    expect(forecast.dailyRate).toBeGreaterThan(50);
    expect(forecast.hardCapCredits).toBe(100);
    expect(forecast.projectedTotal).toBeLessThanOrEqual(100);
    expect(forecast.range.high).toBeLessThanOrEqual(100);
    const caption = await text(page, '#forecast-caption');
    if (forecast.projectedTotal === 100) expect(caption).toContain('the period ends at its hard cap of 100.00 credits');
    if (forecast.exhaustion === 'projected') {
      expect(forecast.projectedExhaustionDate >= forecast.asOf.slice(0, 10)).toBe(true);
      expect(caption).toMatch(/the hard cap of 100\.00 credits is reached (today|on)/);
    }
    expect(caption).not.toContain('runs out');
    expect(await text(page, '#forecast-basis')).toContain('observed');
    // No overage on a hard cap: 0.00, not in alarm red.
    expect(await text(page, '[data-testid=kpi-overage] .kpi-value')).toBe(formatCredits(0));
    expect(await page.getAttribute('[data-testid=kpi-overage]', 'class')).not.toContain('alarm');
    expect(await page.evaluate(`getComputedStyle(document.querySelector('[data-testid=kpi-overage] .kpi-value')).color`)).not.toBe('rgb(153, 27, 27)');
    await page.close();

    const spent = await createOrganization(t, 'dash-spent', 'free');
    await spend(spent, 4);
    const spentKey = (await issueKey(t, spent, ['read'], 'page')).key;
    const second = await newPage();
    const spentResponse = second.waitForResponse((r) => r.url().includes(`/api/organizations/${spent}/usage/forecast`));
    await signIn(second, baseUrl, spentKey);
    const spentForecast = await (await spentResponse).json();
    expect(spentForecast).toMatchObject({ exhaustion: 'reached', projectedExhaustionDate: null, projectedTotal: 100, hardCapCredits: 100 });
    await second.waitForSelector('#forecast-caption');
    const spentCaption = await text(second, '#forecast-caption');
    expect(spentCaption).toContain('the hard cap of 100.00 credits was reached: nothing more is accepted this period');
    expect(spentCaption).not.toContain('runs out');
    expect(spentCaption).not.toMatch(/ is reached /);
    await second.close();
  }

  it('shows the agent runs with their spend including children, opens a run into its children and own events, pages, and says when there are none or a request failed', async () => {
    const org = await createOrganization(t, 'dash-runs', 'professional');
    const key = (await issueKey(t, org, ['read', 'track'], 'agents')).key;
    const auth = { Authorization: `Bearer ${key}` };
    const createRun = async (body: Record<string, unknown>) => (await t.http().post(`/api/organizations/${org}/runs`).set(auth).send(body).expect(201)).body as { id: string };
    const charge = async (runId: string, complexity: number) => {
      const res = await t.http().post(`/api/organizations/${org}/usage/events`).set(auth).set('X-Run-Id', runId).send({ eventType: 'structuring_diagnose', eventData: { complexity } }).expect(201);
      return res.body.creditsConsumed as number;
    };
    // Ten older runs, so the tree below is on the first page (newest first) and a second page exists.
    for (let i = 0; i < 10; i++) await createRun({ label: `batch-${i}` });
    const planner = await createRun({ label: 'planner', budgetCredits: '50.5', ttlSeconds: 3600 });
    const researcher = await createRun({ label: 'researcher', parentRunId: planner.id, budgetCredits: '100' });
    const writer = await createRun({ label: 'writer', parentRunId: planner.id });
    const own = await charge(planner.id, 1);
    const researched = (await charge(researcher.id, 1)) + (await charge(researcher.id, 1));
    // A hold on the writer: counted against the planner's budget until it is settled.
    await t.http().post(`/api/organizations/${org}/usage/reservations`).set(auth).set('X-Run-Id', writer.id).send({ eventType: 'structuring_diagnose', eventData: { complexity: 1 } }).expect(201);

    const listed = (await t.http().get(`/api/organizations/${org}/runs`).set(auth).expect(200)).body;
    const apiPlanner = listed.items.find((r: { id: string }) => r.id === planner.id);
    expect(listed.items).toHaveLength(11);
    // The planner's spend is its own and its children's.
    expect(Number(apiPlanner.spentCredits)).toBe(own + researched);
    expect(apiPlanner.childRuns).toBe(2);
    expect(Number(apiPlanner.heldCredits)).toBeGreaterThan(0);

    const page = await newPage();
    await signIn(page, baseUrl, key);
    const plannerRow = `#runs-table > tbody > tr[data-run-id="${planner.id}"]`;
    await page.waitForSelector(plannerRow);
    const cell = (row: string, id: string) => text(page, `${row} > td [data-testid=${id}], ${row} > td[data-testid=${id}]`);
    expect(await text(page, `${plannerRow} .run-toggle`)).toContain('planner');
    expect(await cell(plannerRow, 'run-status')).toBe('open');
    expect(await cell(plannerRow, 'run-budget')).toBe('50.50');
    expect(await cell(plannerRow, 'run-spent')).toBe(formatCreditAmount(apiPlanner.spentCredits));
    expect(await cell(plannerRow, 'run-held')).toBe(formatCreditAmount(apiPlanner.heldCredits));
    expect(await cell(plannerRow, 'run-remaining')).toBe(formatCreditAmount(apiPlanner.remainingCredits));
    expect(await cell(plannerRow, 'run-children')).toBe('2');
    expect(await page.getAttribute(`${plannerRow} [data-testid=run-budget-bar] [role=img]`, 'aria-label')).toMatch(/% of the budget used \(\d+(\.\d)?% spent, \d+(\.\d)?% held\)$/);
    // A page of 10, newest first, then the rest through the cursor.
    expect(await page.$$eval('#runs-table > tbody > tr[data-run-id]', (rows) => rows.length)).toBe(10);
    expect(await page.getAttribute('#runs-table > tbody > tr[data-run-id]:first-child', 'data-run-id')).toBe(planner.id);
    expect(await text(page, '#runs .runs-status')).toBe('10 runs shown, newest first, more available.');
    await page.click('#runs .runs-more');
    await page.waitForSelector('#runs .runs-status:has-text("11 runs shown, newest first.")');
    expect(await page.isHidden('#runs .runs-list > .runs-more')).toBe(true);
    expect(await page.$$eval('#runs-table > tbody > tr[data-run-id]', (rows) => rows.map((r) => r.querySelector('.run-toggle')!.textContent!.trim()))).toEqual([
      '▸ planner',
      ...Array.from({ length: 10 }, (_, i) => `▸ batch-${9 - i}`),
    ]);

    // Opening the planner asks for it then (not before), and shows its own events and its children.
    const asked: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname + new URL(request.url()).search));
    expect(await page.$(`#run-detail-${planner.id} [data-testid=run-detail]`)).toBeNull();
    await page.click(`${plannerRow} .run-toggle`);
    const detail = `#run-detail-${planner.id}`;
    await page.waitForSelector(`${detail} [data-testid=run-detail]`);
    expect(asked).toContain(`/api/organizations/${org}/runs/${planner.id}`);
    expect(asked.some((a) => a.startsWith(`/api/organizations/${org}/runs?`) && a.includes(`parentRunId=${planner.id}`))).toBe(true);
    expect(await page.getAttribute(`${plannerRow} .run-toggle`, 'aria-expanded')).toBe('true');
    const items = await page.$$eval(`${detail} .run-items tbody tr`, (rows) => rows.map((r) => [...r.children].map((c) => (c.textContent ?? '').trim())));
    expect(items).toEqual([['structuring_diagnose', '1', formatCreditAmount(String(own)), '–']]);
    const childRows = `${detail} .runs-table > tbody > tr[data-run-id]`;
    expect(await page.$$eval(childRows, (rows) => rows.map((r) => r.getAttribute('data-run-id')))).toEqual([writer.id, researcher.id]);
    const researcherRow = `${detail} .runs-table > tbody > tr[data-run-id="${researcher.id}"]`;
    expect(await cell(researcherRow, 'run-spent')).toBe(formatCreditAmount(String(researched)));
    expect(await cell(researcherRow, 'run-budget')).toBe('100.00');
    expect(await cell(`${detail} .runs-table > tbody > tr[data-run-id="${writer.id}"]`, 'run-budget')).toBe('–');
    // A child opens the same way: its own events.
    await page.click(`${researcherRow} .run-toggle`);
    await page.waitForSelector(`#run-detail-${researcher.id} [data-testid=run-detail]`);
    expect(await page.$$eval(`#run-detail-${researcher.id} .run-items tbody tr td`, (cells) => cells.map((c) => (c.textContent ?? '').trim()))).toEqual(['structuring_diagnose', '2', formatCreditAmount(String(researched)), '–']);
    expect(await text(page, `#run-detail-${researcher.id}`)).toContain('No child runs.');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.locator('#runs').scrollIntoViewIfNeeded();
    await elementScreenshot(page, '#runs', 'organization-runs', { docs: true });

    // At 1,400 px the runs table fits its card, opened rows included.
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.waitForTimeout(200);
    expect(await page.$eval('#runs-table', (el) => el.scrollWidth <= el.parentElement!.clientWidth + 1)).toBe(true);
    expect(await fitsWidth(page)).toBe(true);
    await page.setViewportSize(LAPTOP);
    // Closing hides it; opening again asks again (a working run's latest figures).
    await page.click(`${plannerRow} .run-toggle`);
    expect(await page.isHidden(detail)).toBe(true);
    const again = page.waitForResponse((r) => r.url().endsWith(`/runs/${planner.id}`));
    await page.click(`${plannerRow} .run-toggle`);
    await again;
    await page.waitForSelector(`${detail} [data-testid=run-detail]`);

    // A run that fails to load says so in its opened row.
    await page.route(`**/api/organizations/${org}/runs/${writer.id}`, (route) => route.fulfill({ status: 503, json: { statusCode: 503, error: 'INTERNAL', message: 'The run store is resting' } }));
    provoke(page, (url, status) => url.pathname.endsWith(`/runs/${writer.id}`) && status === 503);
    await page.click(`${detail} tr[data-run-id="${writer.id}"] .run-toggle`);
    await page.waitForSelector(`#run-detail-${writer.id} [role=alert]`);
    expect(await text(page, `#run-detail-${writer.id} [role=alert]`)).toContain('The run store is resting');
    await page.close();

    // An organization without runs: the empty state.
    const empty = await newPage();
    await signIn(empty, baseUrl, orgKey);
    await empty.waitForSelector('#runs [data-testid=runs-empty]');
    expect(await text(empty, '#runs [data-testid=runs-empty]')).toContain('No agent runs yet');
    await empty.close();

    // The list failing: the error where the runs would be, never an empty state.
    const failing = await newPage();
    await failing.route(`**/api/organizations/${org}/runs?*`, (route) => route.fulfill({ status: 500, json: { statusCode: 500, error: 'INTERNAL', message: 'The runs are away' } }));
    provoke(failing, (url, status) => url.pathname === `/api/organizations/${org}/runs` && status === 500);
    await signIn(failing, baseUrl, key);
    await failing.waitForSelector('#runs [role=alert]');
    expect(await text(failing, '#runs [role=alert]')).toContain('The runs are away');
    expect(await failing.$('#runs [data-testid=runs-empty]')).toBeNull();
    await failing.close();
  });

  it('marks a streamed call in the event log with why its stream ended, and the log still fits 1,400 px', async () => {
    const org = await createOrganization(t, 'dash-stream', 'professional');
    const key = (await issueKey(t, org, ['read'], 'page')).key;
    // A run of 3 credits: the stream's first hold (the prompt and 256 output tokens) fits, its next step does not.
    const run = (await t.http().post(`/api/organizations/${org}/runs`).set(ADMIN).send({ budgetCredits: '3', label: 'streaming agent' }).expect(201)).body as { id: string };
    const stream = async (maxTokens: number, headers: Record<string, string> = {}) => {
      const res = await t
        .http()
        .post('/api/llm/complete')
        .set(ADMIN)
        .set('X-Organization-Id', org)
        .set(headers)
        .send({ prompt: 'hello world!', maxTokens, stream: true })
        .buffer(true)
        .parse((r, cb) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => cb(null, body));
        })
        .expect(200);
      const usage = /event: usage\r?\ndata: (.*)/.exec(res.body as string);
      expect(usage).not.toBeNull();
      return JSON.parse(usage![1]) as { stopReason: string };
    };
    expect((await stream(64)).stopReason).toBe('complete');
    expect((await stream(2000, { 'X-Run-Id': run.id })).stopReason).toBe('credit_limit');
    // An ordinary (not streamed) call of the same route: no badge.
    await t.http().post('/api/llm/complete').set(ADMIN).set('X-Organization-Id', org).send({ prompt: 'hello', maxTokens: 32 }).expect(200);
    // The stream settles as it ends; wait until the log has all three.
    let logged: { items: Array<{ credits: number; breakdown: { stopReason?: string } }> } = { items: [] };
    for (let i = 0; i < 200 && logged.items.length < 3; i++) {
      logged = (await t.http().get(`/api/organizations/${org}/usage/events`).set(ADMIN).expect(200)).body;
      if (logged.items.length < 3) await new Promise((r) => setTimeout(r, 25));
    }
    expect(logged.items.map((e) => e.breakdown.stopReason ?? null)).toEqual([null, 'credit_limit', 'complete']);

    const page = await newPage();
    await signIn(page, baseUrl, key);
    await page.waitForSelector('#event-log-table [data-stop-reason=credit_limit]');
    const rows = await page.$$eval('#event-log-table tbody tr', (trs) =>
      trs.map((tr) => ({ reason: tr.querySelector('[data-testid=stop-reason]')?.getAttribute('data-stop-reason') ?? null, badge: (tr.querySelector('[data-testid=stop-reason]')?.textContent ?? '').trim(), credits: (tr.children[4].textContent ?? '').trim() })),
    );
    expect(rows).toEqual([
      { reason: null, badge: '', credits: formatCredits(logged.items[0].credits) },
      { reason: 'credit_limit', badge: 'streamed · stopped at the credit limit', credits: formatCredits(logged.items[1].credits) },
      { reason: 'complete', badge: 'streamed · complete', credits: formatCredits(logged.items[2].credits) },
    ]);
    // The run the stream was cut at: its spend and the units it was charged for.
    const runRow = `#runs-table > tbody > tr[data-run-id="${run.id}"]`;
    await page.waitForSelector(runRow);
    const view = (await t.http().get(`/api/organizations/${org}/runs/${run.id}`).set(ADMIN).expect(200)).body;
    expect(await text(page, `${runRow} [data-testid=run-spent]`)).toBe(formatCreditAmount(view.spentCredits));
    await page.click(`${runRow} .run-toggle`);
    await page.waitForSelector(`#run-detail-${run.id} .run-items`);
    expect(await text(page, `#run-detail-${run.id} .run-items tbody tr td:nth-child(4)`)).toBe('inputTokens 3 · outputTokens 256');
    expect(await seriousAxeViolations(page)).toEqual([]);

    // At 1,400 px the log, badge included, fits its card: no sideways scroll.
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.waitForTimeout(200);
    const layout = (await page.evaluate(`(() => {
      const table = document.querySelector('#event-log-table');
      return { tableWidth: table.scrollWidth, boxWidth: table.parentElement.clientWidth };
    })()`)) as { tableWidth: number; boxWidth: number };
    expect(layout.tableWidth).toBeLessThanOrEqual(layout.boxWidth + 1);
    expect(layout.tableWidth).toBeLessThanOrEqual(1400);
    expect(await fitsWidth(page)).toBe(true);
    await page.locator('#event-log').scrollIntoViewIfNeeded();
    await elementScreenshot(page, '#event-log', 'event-log-streamed', { docs: true });
    await page.setViewportSize(LAPTOP);
    await page.close();

    // The other two ways a stream ends (a client that left, a handler that failed), as the log would answer them.
    const others = await newPage();
    await others.route(`**/api/organizations/${org}/usage/events?*`, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.items[0].breakdown = { ...body.items[0].breakdown, stopReason: 'client_disconnect' };
      body.items[2].breakdown = { ...body.items[2].breakdown, stopReason: 'error' };
      await route.fulfill({ response, json: body });
    });
    await signIn(others, baseUrl, key);
    await others.waitForSelector('#event-log-table [data-stop-reason=error]');
    expect(await others.$$eval('#event-log-table tbody [data-testid=stop-reason]', (badges) => badges.map((b) => (b.textContent ?? '').trim()))).toEqual([
      'streamed · the client disconnected',
      'streamed · stopped at the credit limit',
      'streamed · failed mid-stream',
    ]);
    expect(await seriousAxeViolations(others)).toEqual([]);
    await others.close();
  });

  it('logged no script error in any page', () => {
    // Failed requests show in the console as failed resources: the response listener above already fails
    // each test on any the test did not provoke, so here only script errors count.
    expect(pageErrors.filter((e) => !/^Failed to load resource: the server responded with a status of [45]\d\d/.test(e))).toEqual([]);
  });
});
