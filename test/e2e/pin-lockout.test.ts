// The PIN rules where PINs are typed, in Debian Chromium through browser mode: a new PIN's length
// rule as text (no request sent for a short one), five wrong PINs lock the role and the wait is
// shown in words instead of the PIN field (also after a reload), and an admin starting the app
// later sees the lockout until acknowledging it.
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launchChromium, screenshotDir } from '../helpers/chromium.js';
import { serve, type Server } from '../helpers/e2e-app.js';
import { tmpDir } from '../helpers/toy-clips.js';

let browser: Browser;
const dataDir = tmpDir('spact-e2e-pin-');
const servers: Server[] = [];

/** `spact serve` on the test's data folder as `role`; resolves with its launch link. */
async function serveAs(role: 'admin' | 'viewer'): Promise<string> {
  const server = await serve({ dataDir, role });
  servers.push(server);
  return server.url;
}

async function stopServers(): Promise<void> {
  for (const s of servers.splice(0)) await s.stop();
}

async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  await page.getByTestId('nav-settings').click();
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stopServers();
});

describe('PINs in the Settings screen', () => {
  it('shows the length rule as text, locks after five wrong PINs and shows the wait in words', async () => {
    const page = await open(await serveAs('admin'));
    await expect.poll(() => page.getByTestId('pin-rule').textContent()).toContain('A new PIN is 6 to 12 digits');
    let setPinCalls = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/api/session.setPin')) setPinCalls++;
    });
    await page.getByTestId('new-pin').fill('1234');
    await expect.poll(() => page.getByTestId('pin-problem').textContent()).toContain('2 more digits needed');
    expect(await page.getByTestId('pin-save').isDisabled()).toBe(true);
    await page.getByTestId('new-pin').fill('482913');
    expect(await page.getByTestId('pin-problem').count()).toBe(0);
    await page.getByTestId('pin-save').click();
    await expect.poll(() => setPinCalls).toBe(1);

    await page.getByTestId('role-select').selectOption('viewer');
    await page.getByTestId('role-switch').click();
    await expect.poll(() => page.getByTestId('role-badge').textContent()).toBe('viewer');

    await page.getByTestId('role-select').selectOption('admin');
    for (let i = 0; i < 5; i++) {
      await page.getByTestId('role-pin').fill('000000');
      await page.getByTestId('role-switch').click();
      if (i < 4) await expect.poll(() => page.getByTestId('role-pin').inputValue()).toBe('');
    }
    const locked = page.getByTestId('pin-locked');
    await expect
      .poll(() => locked.textContent())
      .toMatch(/Too many wrong PINs for the admin role\. You can try again in (1 minute|\d+ seconds)\./);
    expect(await page.getByTestId('role-pin').count()).toBe(0);
    expect(await page.getByTestId('role-switch').isDisabled()).toBe(true);
    await page.screenshot({ path: path.join(screenshotDir, 'settings-pin-locked.png'), fullPage: true });

    // The main side keeps the lock: after a reload the wait is still there.
    await page.reload();
    await page.getByTestId('role-select').selectOption('admin');
    await expect.poll(() => page.getByTestId('pin-locked').textContent()).toMatch(/You can try again in \d+ seconds\./);
    await page.close();
    await stopServers();
  });

  it('lists the lockout for an admin on the next start until it is acknowledged', async () => {
    const page = await open(await serveAs('admin'));
    const notice = page.getByTestId('pin-lockouts');
    await expect
      .poll(() => notice.textContent())
      .toMatch(/the admin PIN was locked for 1 minute after 5\s+wrong tries/);
    await page.screenshot({ path: path.join(screenshotDir, 'settings-pin-lockouts.png'), fullPage: true });
    await page.getByTestId('pin-lockouts-ack').click();
    await expect.poll(() => notice.count()).toBe(0);
    await page.reload();
    await page.getByTestId('current-role').waitFor();
    expect(await page.getByTestId('pin-lockouts').count()).toBe(0);
    await page.close();
  });
});
