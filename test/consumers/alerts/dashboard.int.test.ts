/**
 * The dashboard in headless Chromium (Debian's `chromium` + playwright-core):
 * an Alba-Keneth activation published through the SDK appears live, its
 * detail shows the source event, and the operator acknowledges it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../../contracts/index.ts';
import type { StoredAlert } from '../../../consumers/alerts/index.ts';
import { api, startPipeline, TOKEN, waitFor, type Pipeline } from './support.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// A machine without Chromium skips this file and says how to run it; CI installs Chromium (.ci/run) and never skips it.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true';
if (skip) console.warn(`dashboard test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

let p: Pipeline;
let browser: Browser;

beforeAll(async () => {
  if (skip) return;
  p = await startPipeline('alerts-dashboard');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await p?.close();
});

describe.skipIf(skip)('dashboard', () => {
  it('shows a new Alba-Keneth alert live, with its source event, and acknowledges it', async () => {
    // Some history for the chart.
    await p.producer('CONRED').publish('conred.incident.reported', sampleEvent('conred.incident.reported', { people: { affected: 250, dead: 2 } }));
    await p.producer('MINGOB').publish('mingob.vehicle.reported-stolen', sampleEvent('mingob.vehicle.reported-stolen'));
    await waitFor(async () => (await api<{ alerts: unknown[] }>(p.url, '/v1/alerts')).body.alerts.length >= 2, 20_000, 'history');

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, locale: 'es-GT' });
    await page.goto(`${p.url}/dashboard/`);
    expect(await page.textContent('h1')).toBe('Alertas en tiempo real');
    await page.fill('#token', TOKEN);
    await page.click('#login button');
    await page.waitForSelector('#conn.on', { timeout: 10_000 });
    await page.waitForSelector('#feed li', { timeout: 10_000 });

    const activation = sampleEvent('pgn.alba-keneth.activated');
    await p.producer('PGN').publish('pgn.alba-keneth.activated', activation);
    const item = page.locator('#feed li.sev-Extreme', { hasText: 'Alerta Alba-Keneth' });
    await item.first().waitFor({ timeout: 15_000 });
    await item.first().click();
    await page.waitForSelector('#detail-headline');
    expect(await page.textContent('#detail')).toContain(activation.eventId);
    await page.click('#ack-btn');
    await page.waitForFunction(() => document.querySelector('#ack-state')?.textContent?.includes('Acusada por'), undefined, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('#chart-institution')?.textContent?.includes('PGN'), undefined, { timeout: 10_000 });

    const list = await api<{ alerts: StoredAlert[] }>(p.url, '/v1/alerts?severity=Extreme');
    const stored = list.body.alerts.find((a) => a.alert.sourceEvents[0]!.eventId === activation.eventId)!;
    expect(stored.ack).toMatchObject({ by: 'Operadora de prueba' });

    mkdirSync('test/artifacts', { recursive: true });
    await page.screenshot({ path: 'test/artifacts/dashboard.png', fullPage: true });
    await page.close();
  });
});
