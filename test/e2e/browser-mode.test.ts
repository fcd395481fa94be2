// `npm start` where Electron is missing: the real path (scripts/start.mjs → spact serve → page in
// Chromium through the one-time launch link), screenshotted.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launchChromium, screenshotDir } from '../helpers/chromium.js';
import { projectRoot } from '../helpers/cli.js';

let app: ChildProcess;
let browser: Browser;
let launchUrl: string;

beforeAll(async () => {
  app = spawn(process.execPath, [path.join(projectRoot, 'scripts/start.mjs'), '--no-open'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      SPACT_FORCE_BROWSER: '1',
      SPACT_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'spact-start-')),
    },
  });
  launchUrl = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no launch link printed:\n${err}`)), 60_000);
    app.stderr!.on('data', (d) => {
      err += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+\/launch\?code=[\w-]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    app.on('exit', (code) => reject(new Error(`start exited with ${code}:\n${err}`)));
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  app?.kill('SIGTERM');
});

describe('npm start in browser mode', () => {
  it('reaches the app page through the one-time link and shows the engine', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(launchUrl);
    await page.getByTestId('nav-settings').click();
    await expect.poll(() => page.getByTestId('engine').textContent(), { timeout: 30_000 }).toMatch(/libtorch \d+\.\d+/);
    expect(await page.getByTestId('engine').textContent()).toContain('Browser mode');
    await page.screenshot({ path: path.join(screenshotDir, 'start-browser-mode.png') });
  });

  it('a second browser without the cookie cannot use the link again and sees an explanation', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const res = await page.goto(launchUrl);
    expect(res?.status()).toBe(401);
    await page.goto(new URL('/', launchUrl).href);
    await expect
      .poll(() => page.getByRole('alert').textContent(), { timeout: 15_000 })
      .toContain('missing or invalid token');
    await context.close();
  });
});
