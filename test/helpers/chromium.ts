import fs from 'node:fs';
import path from 'node:path';

import { chromium, type Browser } from 'playwright-core';

import { projectRoot } from './cli.js';

export const CHROMIUM_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium through playwright-core (never `playwright install`: it downloads). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROME_PATH`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

export const screenshotDir = path.join(projectRoot, 'test', 'e2e', 'screenshots');
fs.mkdirSync(screenshotDir, { recursive: true });
