// The same scenarios in the real Electron app, through Playwright's _electron driver — where an
// Electron binary is installed. This machine cannot download it (no registry package ships the
// binary), so here the suite says why it did not run instead of pretending.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { _electron as electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';
import { screenshotDir } from '../helpers/chromium.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { tinyModel } from '../helpers/video.js';

function electronBinary(): { path: string | null; why: string } {
  try {
    const p = createRequire(import.meta.url)('electron') as unknown;
    if (typeof p === 'string' && fs.existsSync(p)) return { path: p, why: '' };
    return {
      path: null,
      why: `the electron package is installed but its binary is missing (${String(p)}): it was not downloaded (offline install)`,
    };
  } catch (err) {
    return { path: null, why: `electron is not installed (${(err as Error).message.split('\n')[0]})` };
  }
}

const bin = electronBinary();
if (!bin.path) {
  process.stderr.write(
    `[e2e] Electron scenarios not run: ${bin.why}. Browser mode covers the same UI (app.test.ts).\n`,
  );
}

describe.runIf(bin.path !== null)('SPAct Desktop in Electron', () => {
  it('opens the window with the secure preload API and refuses raw video to a viewer over IPC', async () => {
    const app = await electron.launch({
      executablePath: bin.path!,
      args: [projectRoot],
      env: { ...process.env, SPACT_DATA_DIR: tmpDir('spact-electron-'), SPACT_DEFAULT_MODEL: await tinyModel() },
    });
    const win = await app.firstWindow();
    await win.getByTestId('nav-settings').click();
    await expect.poll(() => win.getByTestId('engine').textContent()).toContain('Electron');
    expect(await win.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    await win.getByTestId('role-select').selectOption('viewer');
    await win.getByTestId('role-switch').click();
    const refused = await win.evaluate(async () => {
      const api = (
        globalThis as unknown as {
          spact: { call(m: string, r: unknown): Promise<{ ok: boolean; error?: { kind: string } }> };
        }
      ).spact;
      return api.call('clips.rawAccess', { clipId: 1 });
    });
    expect(refused).toMatchObject({ ok: false, error: { kind: 'forbidden' } });
    await win.screenshot({ path: path.join(screenshotDir, 'electron-settings.png') });
    await app.close();
  });
});
