// The operator's day in the real UI, in Debian Chromium through browser mode: import a clip,
// anonymize it and watch the output play, fine-tune to the room and watch progress, export and
// find the manifest on disk, switch to viewer and see raw video refused by the main side, and a
// fake camera anonymized live. Screenshots of every screen go to test/e2e/screenshots/.
import fs from 'node:fs';
import path from 'node:path';

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { screenshotDir } from '../helpers/chromium.js';
import { projectRoot } from '../helpers/cli.js';
import { startApp, type E2eApp } from '../helpers/e2e-app.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

let app: E2eApp;
let page: Page;
let dataDir = '';
const exportDir = path.join(tmpDir('spact-e2e-export-'), 'to-cloud');

const waitFor = async (ok: () => boolean, timeoutMs: number) => {
  for (const end = Date.now() + timeoutMs; !ok();) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

const shot = (name: string) => page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });

beforeAll(async () => {
  app = await startApp({ dataDir: tmpDir('spact-e2e-data-'), model: true, fakeCamera: true });
  ({ page, dataDir } = app);
}, 180_000);

afterAll(() => app?.close());

describe('SPAct Desktop in browser mode', () => {
  it('imports a clip, anonymizes it and plays the anonymized output', async () => {
    await page.getByTestId('nav-library').click();
    await shot('library-empty');
    await page.getByTestId('new-room').fill('Room 1');
    await page.getByRole('button', { name: 'Add room' }).click();
    const video = makeVideo(path.join(tmpDir(), 'ward.mp4'), { width: 160, height: 120, fps: 10, seconds: 8 });
    await page.getByTestId('file-input').setInputFiles(video);
    const row = page.getByTestId('clip-row').first();
    await row.waitFor();
    await expect.poll(() => row.getByTestId('clip-status').textContent()).toContain('raw only');
    await row.getByTestId('anonymize').click();
    await expect.poll(() => row.getByTestId('clip-status').textContent(), { timeout: 60_000 }).toContain('anonymized');
    await row.getByTestId('preview').click();
    const player = page.getByTestId('output-video');
    await expect
      .poll(
        () =>
          player.evaluate(
            (v) =>
              (v as unknown as { readyState: number; duration: number }).readyState >= 2 &&
              (v as unknown as { duration: number }).duration > 7,
          ),
        { timeout: 30_000 },
      )
      .toBe(true);
    await shot('library');
    await page.keyboard.press('Escape');
    // The privacy audit panel: opens in view with the focus, runs the audit as a job with progress.
    await row.getByTestId('row-menu').click();
    await row.getByTestId('audit').click();
    const panel = page.getByTestId('audit-report');
    await panel.waitFor();
    expect(await panel.evaluate((el) => el.ownerDocument.activeElement === el)).toBe(true);
    expect(await panel.getByTestId('audit-none').textContent()).toContain('not been audited');
    await panel.getByTestId('audit-run').click();
    // A test pattern has nobody to follow: the verdict says so in words, and not as good news.
    const identity = panel.getByTestId('audit-identity');
    await identity.waitFor({ timeout: 200_000 });
    expect(await identity.textContent()).toMatch(/Inconclusive: too few people.*not evidence/s);
    expect(await identity.getAttribute('class')).toContain('unknown');
    expect(await panel.getByTestId('audit-utility').textContent()).toMatch(/Inconclusive/);
    expect(await panel.getByTestId('audit-judged').textContent()).toMatch(/nobody followed/);
    expect(await panel.getByTestId('audit-when').textContent()).toMatch(/Last audit: .*output #1/);
    await shot('library-audit');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('library-audit-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    // Escape closes it; opened again, the last audit is still there (stored with the output).
    await panel.press('Escape');
    await expect.poll(() => page.getByTestId('audit-report').count()).toBe(0);
    await row.getByTestId('row-menu').click();
    await row.getByTestId('audit').click();
    await expect
      .poll(() => page.getByTestId('audit-identity').textContent(), { timeout: 10_000 })
      .toMatch(/Inconclusive: too few people/);
    await page.getByTestId('audit-close').click();
  });

  it("shows the room's working size (auto, measured on its clip) and changes it from the keyboard", async () => {
    const form = page.getByTestId('room-size');
    await form.waitFor();
    // The first anonymization measured the room's people (none in a test pattern): auto follows the clip's size.
    expect(await form.getAttribute('data-working-size')).toBe('auto');
    expect(await page.getByTestId('room-size-summary').textContent()).toMatch(
      /Auto\s*→\s*120 px.*nobody found in \d+ frames? of 1 clip/s,
    );
    expect(await page.getByTestId('clip-row').first().getByTestId('clip-status').textContent()).toContain('at 160×120');
    await page.getByTestId('room-size-fixed').focus();
    await page.keyboard.press('Space');
    await page.getByTestId('room-size-px').fill('128');
    await page.getByTestId('room-output-size').selectOption('source');
    await page.getByTestId('room-size-save').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => form.getAttribute('data-working-size')).toBe('128');
    expect(await form.getAttribute('data-output-size')).toBe('source');
    expect(await page.getByTestId('room-size-summary').textContent()).toMatch(
      /128 px short side.*each clip's own size/s,
    );
    await shot('library-room-size');
    // Back to auto for the rest of the day.
    await page.getByTestId('room-size-auto').check();
    await page.getByTestId('room-output-size').selectOption('working');
    await page.getByTestId('room-size-save').click();
    await expect.poll(() => form.getAttribute('data-working-size')).toBe('auto');
  });

  it('fine-tunes a room of real footage with the room recipe and shows what it found', async () => {
    // The room recipe needs people followed over time: a room with 6 s of real pedestrians.
    await page.getByTestId('nav-library').click();
    await page.getByTestId('new-room').fill('Square');
    await page.getByRole('button', { name: 'Add room' }).click();
    await expect
      .poll(() => page.getByTestId('room-select').evaluate((s) => (s as unknown as { value: string }).value))
      .not.toBe('1');
    await page
      .getByTestId('file-input')
      .setInputFiles(path.join(projectRoot, 'test/fixtures/footage/room-a-excerpt.mp4'));
    await expect.poll(() => page.getByTestId('clip-row').first().textContent()).toContain('room-a-excerpt');

    await page.getByTestId('nav-finetune').click();
    await expect.poll(() => page.getByTestId('ft-room').textContent()).toContain('Square (1 clips)');
    await page.getByTestId('ft-room').selectOption({ label: 'Square (1 clips)' });
    // Real camera is the default recipe, with its own step budget; the synthetic room has another.
    expect(await page.getByTestId('ft-recipe-room').isChecked()).toBe(true);
    expect(await page.getByTestId('ft-steps').inputValue()).toBe('300');
    await page.getByTestId('ft-recipe-synthroom').check();
    expect(await page.getByTestId('ft-steps').inputValue()).toBe('200');
    await page.getByTestId('ft-recipe-room').focus();
    await page.keyboard.press('Space');
    expect(await page.getByTestId('ft-steps').inputValue()).toBe('300');
    expect(await page.getByTestId('ft-recipe-hint').textContent()).toMatch(/people are measured when the run starts/);
    await page.getByTestId('ft-steps').fill('4');
    await page.getByTestId('ft-start').click();

    // What the run is doing, in words: the room's people measured, then the footage labelled.
    const message = page.getByTestId('ft-message');
    await expect
      .poll(() => message.textContent(), { timeout: 120_000 })
      .toMatch(/labelling the footage|finding people|judging poses/);
    const progress = page.getByTestId('ft-progress');
    const first = await progress.textContent();
    await expect.poll(() => progress.textContent(), { timeout: 120_000 }).not.toBe(first);
    await expect.poll(() => page.getByTestId('run-status').first().textContent(), { timeout: 240_000 }).toBe('done');
    expect(await page.getByTestId('run-row').first().textContent()).toMatch(/real camera · 4 steps · \d+ px/);
    expect(await page.locator('figcaption').first().textContent()).toMatch(/utility \(student\).*identity budget/);
    // 6 s is too short to hold a part out for choosing the model: said so, not shown as an audit.
    const outcome = page.getByTestId('ft-outcome');
    await outcome.waitFor();
    expect(await outcome.getByTestId('ft-no-selection').textContent()).toMatch(/no footage could be held out/);
    expect(await outcome.getByTestId('ft-warnings').textContent()).toMatch(/too short to hold a part out/);
    await shot('finetune');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('finetune-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Promote asks first, with what the audit did (not) show; Escape keeps the current model.
    await page.getByTestId('ft-promote').first().click();
    const confirm = page.getByTestId('ft-promote-panel');
    await confirm.waitFor();
    expect(await confirm.evaluate((el) => el.ownerDocument.activeElement === el)).toBe(true);
    expect(await confirm.getByTestId('ft-promote-comparison').textContent()).toMatch(/not audited on held-out footage/);
    await shot('finetune-promote');
    await confirm.press('Escape');
    await expect.poll(() => page.getByTestId('ft-promote-panel').count()).toBe(0);
    await page.getByTestId('ft-promote').first().click();
    await page.getByTestId('ft-promote-confirm').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('ft-promote-panel').count()).toBe(0);
    const active = await page.evaluate(async () => {
      const post = (m: string, body: unknown) =>
        fetch(`/api/${m}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        })
          .then((r) => r.json())
          .then((r) => (r as { value: unknown }).value);
      const runs = (await post('runs.list', {})) as { modelId: number; roomId: number }[];
      const rooms = (await post('rooms.list', {})) as { id: number; activeModelId: number | null }[];
      return { model: runs[0]!.modelId, active: rooms.find((r) => r.id === runs[0]!.roomId)!.activeModelId };
    });
    expect(active.active).toBe(active.model);
  });

  it('exports the room and writes the manifest to disk', async () => {
    await page.getByTestId('nav-export').click();
    await page.getByTestId('export-to').fill(exportDir);
    // The reply to exports.start is held back until the job has finished: a short export's 'done'
    // event then reaches the screen before the job id does, which once left it waiting forever.
    await page.route('**/api/exports.start', async (route) => {
      const response = await route.fetch();
      await waitFor(() => fs.existsSync(path.join(exportDir, 'manifest.json')), 60_000);
      await new Promise((r) => setTimeout(r, 300));
      await route.fulfill({ response });
    });
    await page.getByTestId('export-start').click();
    await page.getByTestId('export-summary').waitFor({ timeout: 60_000 });
    const manifest = JSON.parse(fs.readFileSync(path.join(exportDir, 'manifest.json'), 'utf8'));
    expect(manifest.items).toHaveLength(1);
    expect(fs.readdirSync(exportDir).filter((f) => f.endsWith('.mp4'))).toHaveLength(1);
    await shot('export');
  });

  it('refuses a /proc destination at once with its reason, and asks before exporting into a full folder', async () => {
    await page.unroute('**/api/exports.start');
    await page.getByTestId('export-to').fill('/proc/nope/export');
    const t0 = Date.now();
    await page.getByTestId('export-start').click();
    const refusal = page.locator('.toast.error').filter({ hasText: 'system file system (proc)' });
    await refusal.waitFor({ timeout: 5000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await refusal.textContent()).toBe(
      'the export folder /proc/nope/export is on a system file system (proc); choose a folder in your home or on a data disk',
    );
    // The folder of the export above is not empty: nothing is written before a confirmation.
    const before = fs.statSync(path.join(exportDir, 'manifest.json')).mtimeMs;
    await page.getByTestId('export-to').fill(exportDir);
    await page.getByTestId('export-start').click();
    const confirm = page.getByTestId('export-confirm');
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain(exportDir);
    expect(fs.statSync(path.join(exportDir, 'manifest.json')).mtimeMs).toBe(before);
    await page.getByTestId('export-confirm-overwrite').click();
    await page.getByTestId('export-summary').waitFor({ timeout: 60_000 });
    expect(fs.statSync(path.join(exportDir, 'manifest.json')).mtimeMs).toBeGreaterThan(before);
    expect(fs.readdirSync(exportDir).filter((f) => f.endsWith('.mp4'))).toHaveLength(1);
  });

  it('sets device, threads and memory budget in Settings; shows the data folder; refuses an absent CUDA device', async () => {
    await page.getByTestId('nav-settings').click();
    const dataDirInput = page.getByTestId('data-dir');
    expect(await dataDirInput.inputValue()).toBe(dataDir);
    expect(await dataDirInput.getAttribute('readonly')).not.toBeNull();
    const cuda = await page.evaluate(() =>
      fetch('/api/app.info', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
        .then((r) => r.json() as Promise<{ value: { engine: { cudaAvailable?: boolean } } }>)
        .then((j) => Boolean(j.value.engine.cudaAvailable)),
    );
    // Without a GPU the CUDA choice is shown but cannot be picked.
    if (!cuda) expect(await page.locator('[data-testid="device"] option[value="cuda"]').isDisabled()).toBe(true);
    await page.getByTestId('device').selectOption('cpu');
    await page.getByTestId('threads').fill('1');
    await page.getByTestId('memory-budget').fill('1536');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('.toast').filter({ hasText: 'settings saved' }).waitFor();
    const api = (method: string, body: unknown) =>
      page.evaluate(
        async ([m, b]) => {
          const r = await fetch(`/api/${m}`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(b),
          });
          return { status: r.status, body: (await r.json()) as Record<string, unknown> };
        },
        [method, body] as const,
      );
    expect((await api('settings.get', {})).body).toMatchObject({
      value: { device: 'cpu', threads: 1, memoryBudgetMiB: 1536, dataDir },
    });
    // What the screen cannot send is refused by the main side too.
    if (!cuda)
      expect((await api('settings.set', { device: 'cuda:0' })).body).toMatchObject({ error: { kind: 'unavailable' } });
    expect((await api('settings.set', { dataDir: '/tmp/elsewhere' })).body).toMatchObject({
      error: { kind: 'validation' },
    });
    // Shown again when the screen opens again: they are stored, not kept by the screen.
    await page.getByTestId('nav-library').click();
    await page.getByTestId('nav-settings').click();
    await expect.poll(() => page.getByTestId('memory-budget').inputValue()).toBe('1536');
    expect(await page.getByTestId('threads').inputValue()).toBe('1');
    expect(await page.getByTestId('device').inputValue()).toBe('cpu');
    await shot('settings-engine');
  });

  it('refuses raw video to the viewer role on the main side, not only in the UI', async () => {
    await page.getByTestId('nav-settings').click();
    await shot('settings');
    // As admin, raw access is granted (and audited).
    const asAdmin = await page.evaluate(() => fetch('/media/clip/1').then((r) => r.status));
    expect(asAdmin).toBe(200);
    await page.getByTestId('role-select').selectOption('viewer');
    await page.getByTestId('role-switch').click();
    await expect.poll(() => page.getByTestId('role-badge').textContent()).toBe('viewer');
    const refused = await page.evaluate(async () => {
      const api = await fetch('/api/clips.rawAccess', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"clipId":1}',
      });
      const media = await fetch('/media/clip/1');
      const body = (await api.json()) as { error: { kind: string } };
      return { api: api.status, kind: body.error.kind, media: media.status };
    });
    expect(refused).toEqual({ api: 403, kind: 'forbidden', media: 403 });
    await page.getByTestId('nav-library').click();
    await expect(page.getByTestId('raw').count()).resolves.toBe(0);
    await shot('library-viewer');
  });

  it('stays readable at 200% zoom (640×400 CSS pixels) and in dark mode', async () => {
    // Fine-tune and Export are not shown to a viewer.
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('role-select').selectOption('operator');
    await page.getByTestId('role-switch').click();
    await expect.poll(() => page.getByTestId('role-badge').textContent()).toBe('operator');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 640, height: 400 });
    for (const screen of ['library', 'finetune', 'export', 'settings']) {
      await page.getByTestId(`nav-${screen}`).click();
      await page.waitForTimeout(200);
      const overflow = await page.evaluate(() => {
        const g = globalThis as unknown as {
          document: { documentElement: { scrollWidth: number } };
          innerWidth: number;
        };
        return g.document.documentElement.scrollWidth - g.innerWidth;
      });
      expect(overflow, `${screen} scrolls sideways`).toBeLessThanOrEqual(1);
      await shot(`${screen}-dark-zoom200`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows a fake camera anonymized live', async () => {
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('role-select').selectOption('operator');
    await page.getByTestId('role-switch').click();
    await expect.poll(() => page.getByTestId('role-badge').textContent()).toBe('operator');
    await page.getByTestId('nav-live').click();
    await page.getByTestId('live-start').click();
    await expect
      .poll(() => page.locator('figcaption').first().textContent(), { timeout: 60_000 })
      .toMatch(/ ([3-9]|\d{2,}) frames/);
    // The canvas holds real pixels (not a blank frame).
    const varied = await page.getByTestId('live-anonymized').evaluate((el) => {
      type Canvas2d = {
        width: number;
        height: number;
        getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const c = el as unknown as Canvas2d;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let min = 255;
      let max = 0;
      for (let i = 0; i < d.length; i += 4) {
        min = Math.min(min, d[i]!);
        max = Math.max(max, d[i]!);
      }
      return max - min;
    });
    expect(varied).toBeGreaterThan(0);
    await shot('live');
    await page.getByTestId('live-stop').click();
  });
});
