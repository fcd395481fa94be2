// The Library and polish parts of issue 15, in Debian Chromium through browser mode: an import
// under "All rooms" asks for its room, a clip moves to another room from its row menu, batch
// choice (anonymize, export, delete with one confirmation naming the count), outputs of an older
// model flagged and "Re-anonymize room" queueing exactly those, the review player's split view
// moved with the keyboard, a streamed WebM's real duration, the audit log in words and one name
// for the shipped model. Screenshots (1280×800 and 900×800) go to test/e2e/screenshots/lib-*.png.
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ClipView } from '../../electron/contract.js';
import { screenshotDir } from '../helpers/chromium.js';
import { callApi, startApp, type E2eApp, type Role } from '../helpers/e2e-app.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';
import { makeStreamedWebm } from '../helpers/webm.js';

let app: E2eApp;
let page: Page;
const rooms: Record<string, number> = {};
const files: Record<string, string> = {};

const POLL = { timeout: 15_000 };

async function shots(name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, `lib-${name}-1280.png`) });
  await page.setViewportSize({ width: 900, height: 800 });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(screenshotDir, `lib-${name}-900.png`) });
  await page.setViewportSize({ width: 1280, height: 800 });
}

const api = <T>(method: string, body: unknown = {}) => callApi<T>(page, method, body);

async function asRole(role: Role): Promise<void> {
  expect((await api('session.switch', { role })).ok).toBe(true);
  await page.reload();
  await expect.poll(() => page.getByTestId('role-badge').textContent(), POLL).toBe(role);
}

const clipsNow = async () => (await api<ClipView[]>('clips.list')).value;
const clipNamed = async (name: string) => (await clipsNow()).find((c) => c.name === name)!;
const row = (name: string) => page.getByTestId('clip-row').filter({ hasText: name });
const showRoom = (label: string) => page.getByTestId('room-select').selectOption({ label });

/** Waits until every named clip has more outputs than it had (a plain loop: minutes at most). */
async function outputsGrow(before: ClipView[], ids: number[]): Promise<void> {
  const count = (list: ClipView[], id: number) => list.find((c) => c.id === id)?.outputs.length ?? 0;
  for (const end = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const now = await clipsNow();
    if (ids.every((id) => count(now, id) > count(before, id))) return;
    if (Date.now() > end) throw new Error(`clips ${ids.join(', ')} were not anonymized in time`);
  }
}

// The open modal dialog's test id, and whether it holds the focus.
const modal = () =>
  page.evaluate(() => {
    const doc = (
      globalThis as unknown as {
        document: {
          querySelector(s: string): { getAttribute(n: string): string | null; contains(n: unknown): boolean } | null;
          activeElement: unknown;
        };
      }
    ).document;
    const d = doc.querySelector('dialog[open]');
    return d ? { testid: d.getAttribute('data-testid'), focused: d.contains(doc.activeElement) } : null;
  });

beforeAll(async () => {
  app = await startApp({ model: true });
  page = app.page;
  for (const name of ['Kitchen', 'Hall']) {
    const r = await api<{ id: number }>('rooms.create', { name });
    rooms[name] = r.value.id;
    // A fixed working size: no person measurement before the first anonymization.
    expect((await api('rooms.setSize', { roomId: r.value.id, workingSize: 112 })).ok).toBe(true);
  }
  const dir = tmpDir('spact-e2e-lib-');
  // Different sizes: different bytes, so each is its own clip.
  for (const [i, name] of ['Kitchen 1', 'Kitchen 2', 'Kitchen 3', 'Loose'].entries())
    files[name] = makeVideo(path.join(dir, `${name}.mp4`), { width: 96 + 16 * i, height: 72, fps: 8, seconds: 1 });
  files.recording = makeStreamedWebm(path.join(dir, 'Live recording.webm'), { seconds: 3, fps: 10 });
  await page.reload();
  await page.getByTestId('nav-library').waitFor();
}, 240_000);

afterAll(async () => {
  await app?.close();
});

describe('importing and moving', () => {
  it('asks which room an import under "All rooms" goes to, "No room" included', async () => {
    await showRoom('All rooms');
    await page.getByTestId('file-input').setInputFiles([files['Kitchen 1']!, files['Kitchen 2']!]);
    await expect.poll(modal, POLL).toEqual({ testid: 'import-room-dialog', focused: true });
    expect(await page.getByTestId('import-room-dialog').locator('h3').textContent()).toBe(
      'Import 2 videos into which room?',
    );
    // Nothing is chosen for the user; "No room" is a choice said out loud.
    expect(await page.getByTestId('import-room').locator('option').allTextContents()).toEqual([
      'Choose a room…',
      'No room',
      'Hall',
      'Kitchen',
    ]);
    expect(await page.getByTestId('import-confirm').isDisabled()).toBe(true);
    await page.getByTestId('import-room').selectOption({ label: 'Kitchen' });
    await shots('import-room');
    await page.getByTestId('import-confirm').click();
    await expect.poll(() => row('Kitchen 2.mp4').getByTestId('clip-room').textContent(), POLL).toBe('Kitchen');
    expect(await row('Kitchen 1.mp4').getByTestId('clip-room').textContent()).toBe('Kitchen');
    expect((await clipNamed('Kitchen 1.mp4')).roomId).toBe(rooms.Kitchen);

    await page.getByTestId('file-input').setInputFiles(files.Loose!);
    await expect.poll(modal, POLL).toMatchObject({ testid: 'import-room-dialog' });
    await page.getByTestId('import-room').selectOption({ label: 'No room' });
    await page.getByTestId('import-confirm').click();
    await expect.poll(() => row('Loose.mp4').getByTestId('clip-room').textContent(), POLL).toBe('—');
    expect((await clipNamed('Loose.mp4')).roomId).toBeNull();
  });

  it('imports straight into the room shown, and a streamed WebM shows its real duration', async () => {
    await showRoom('Kitchen (2)');
    await page.getByTestId('file-input').setInputFiles([files['Kitchen 3']!, files.recording!]);
    await row('Live recording.webm').waitFor(POLL);
    expect(await modal()).toBeNull();
    // MediaRecorder's WebM states no duration: 3 s of packets, not "0.0 s".
    expect(await row('Live recording.webm').locator('td').nth(4).textContent()).toBe('3.0 s');
    expect((await clipNamed('Live recording.webm')).durationS).toBeCloseTo(3, 1);
    expect((await clipNamed('Kitchen 3.mp4')).roomId).toBe(rooms.Kitchen);
  });

  it('moves a clip to another room from its row menu (admin), and only an admin is offered it', async () => {
    await showRoom('All rooms');
    const r = row('Kitchen 2.mp4');
    await r.getByTestId('row-menu').click();
    await r.getByTestId('move').click();
    await expect.poll(modal, POLL).toEqual({ testid: 'move-dialog', focused: true });
    expect(await page.getByTestId('move-dialog').locator('h3').textContent()).toMatch(
      /Move “Kitchen 2.mp4” to another/,
    );
    expect(await page.getByTestId('move-room').locator('option').allTextContents()).toEqual([
      'Hall',
      'Kitchen (where it is now)',
      'No room',
    ]);
    await page.getByTestId('move-room').selectOption({ label: 'Hall' });
    await shots('move');
    await page.getByTestId('move-confirm').click();
    await expect.poll(() => row('Kitchen 2.mp4').getByTestId('clip-room').textContent(), POLL).toBe('Hall');
    expect((await clipNamed('Kitchen 2.mp4')).roomId).toBe(rooms.Hall);

    await asRole('operator');
    await row('Kitchen 2.mp4').getByTestId('row-menu').click();
    expect(await row('Kitchen 2.mp4').getByTestId('move').count()).toBe(0);
    await page.keyboard.press('Escape');
    await asRole('admin');
  });
});

describe('batch actions', () => {
  it('anonymizes the chosen clips, exports them, and deletes a choice after one confirmation', async () => {
    await showRoom('All rooms');
    await row('Loose.mp4').waitFor();
    const all = page.getByTestId('select-all');
    await all.check();
    const n = await page.getByTestId('clip-row').count();
    await expect.poll(() => page.getByTestId('batch-count').textContent(), POLL).toBe(`${n} chosen`);
    await all.uncheck();
    expect(await page.getByTestId('batch-bar').count()).toBe(0);

    for (const name of ['Kitchen 1.mp4', 'Loose.mp4']) await row(name).getByTestId('clip-check').check();
    expect(await page.getByTestId('batch-count').textContent()).toBe('2 chosen');
    await shots('batch');
    const before = await clipsNow();
    const ids = await Promise.all(['Kitchen 1.mp4', 'Loose.mp4'].map(async (n) => (await clipNamed(n)).id));
    await page.getByTestId('batch-anonymize').click();
    await outputsGrow(before, ids);
    await expect.poll(() => row('Loose.mp4').getByTestId('preview').count(), POLL).toBe(1);

    // Export: the chosen clips go to a folder, as one export.
    const dest = path.join(tmpDir('spact-e2e-lib-export-'), 'out');
    await page.getByTestId('batch-export').click();
    await expect.poll(modal, POLL).toMatchObject({ testid: 'batch-export-dialog' });
    await page.getByTestId('batch-export-to').fill('relative/folder');
    expect(await page.getByTestId('batch-export-problem').textContent()).toMatch(/full path/);
    expect(await page.getByTestId('batch-export-start').isDisabled()).toBe(true);
    await page.getByTestId('batch-export-to').fill(dest);
    await page.getByTestId('batch-export-start').click();
    await expect.poll(modal, POLL).toBeNull();
    await expect
      .poll(async () => (await api<{ items: number; destination: string }[]>('exports.list')).value[0], {
        timeout: 60_000,
      })
      .toMatchObject({ items: 2 });
    expect(fs.readdirSync(dest).filter((f) => f.endsWith('.mp4'))).toHaveLength(2);

    // Delete: one exported clip and one moved clip, one confirmation naming the count.
    await page.getByTestId('batch-clear').click();
    for (const name of ['Loose.mp4', 'Kitchen 2.mp4']) await row(name).getByTestId('clip-check').check();
    await page.getByTestId('batch-delete').click();
    await expect.poll(modal, POLL).toEqual({ testid: 'batch-delete-dialog', focused: true });
    expect(await page.getByTestId('batch-delete-dialog').textContent()).toMatch(/Delete 2 clip\(s\) and their/);
    await shots('batch-delete');
    await page.getByTestId('confirm-batch-delete').click();
    await expect.poll(() => row('Loose.mp4').count(), POLL).toBe(0);
    expect(await row('Kitchen 2.mp4').count()).toBe(0);
    expect(await row('Kitchen 1.mp4').count()).toBe(1);
    expect((await clipsNow()).map((c) => c.name).sort()).toEqual([
      'Kitchen 1.mp4',
      'Kitchen 3.mp4',
      'Live recording.webm',
    ]);
  });
});

describe('outputs of an older model', () => {
  it('flags them and re-anonymizes exactly those clips of the room', async () => {
    // An earlier model of the room: the shipped model's weights under another record (what a
    // promoted fine-tune would have left behind).
    const shipped = (await api<{ id: number; isDefault: boolean }[]>('models.list')).value.find((m) => m.isDefault)!;
    const db = new Database(path.join(app.dataDir, 'library.sqlite'));
    const old = Number(
      db
        .prepare(
          `INSERT INTO models (name, checkpoint, sha256, created_at)
           SELECT 'Kitchen run 1', checkpoint, 'e2e-older-model', created_at FROM models WHERE id = ?`,
        )
        .run(shipped.id).lastInsertRowid,
    );
    db.close();
    const k3 = await clipNamed('Kitchen 3.mp4');
    const before = await clipsNow();
    expect((await api('clips.anonymize', { clipIds: [k3.id], modelId: old })).ok).toBe(true);
    await outputsGrow(before, [k3.id]);

    await page.reload();
    await showRoom('Kitchen (3)');
    await expect.poll(() => row('Kitchen 3.mp4').getByTestId('older-model').count(), POLL).toBe(1);
    expect(await row('Kitchen 1.mp4').getByTestId('older-model').count()).toBe(0);
    expect(await page.getByTestId('older-model-notice').textContent()).toMatch(/^1 clip\(s\) of Kitchen were/);
    expect(await row('Kitchen 3.mp4').getByTestId('older-model').getAttribute('title')).toMatch(/Kitchen run 1/);
    await shots('older-model');
    await row('Kitchen 3.mp4').scrollIntoViewIfNeeded();
    await shots('older-model-row');

    const beforeAgain = await clipsNow();
    const reply = page.waitForResponse((r) => r.url().endsWith('/api/rooms.reanonymize'));
    await page.getByTestId('reanonymize-room').click();
    const body = (await (await reply).json()) as { value: { clipIds: number[]; modelId: number } };
    expect(body.value).toMatchObject({ clipIds: [k3.id], modelId: shipped.id });
    await outputsGrow(beforeAgain, [k3.id]);
    expect((await clipNamed('Kitchen 3.mp4')).outputs.at(-1)!.modelId).toBe(shipped.id);
    // The list follows the finished job: no flag, no notice.
    await expect.poll(() => row('Kitchen 3.mp4').getByTestId('preview').count(), POLL).toBe(1);
    expect(await row('Kitchen 3.mp4').getByTestId('older-model').count()).toBe(0);
    expect(await page.getByTestId('older-model-notice').count()).toBe(0);
  });
});

describe('the review player', () => {
  it('lays raw and anonymized over each other with a divider an admin moves with the keyboard', async () => {
    await showRoom('Kitchen (3)');
    await row('Kitchen 1.mp4').getByTestId('preview').click();
    const dialog = page.getByTestId('preview-dialog');
    await dialog.getByTestId('raw-video').waitFor();
    expect(await dialog.getByTestId('review-player').getAttribute('data-layout')).toBe('side');
    await dialog.getByTestId('review-split').check();
    expect(await dialog.getByTestId('review-player').getAttribute('data-layout')).toBe('split');
    const splitter = dialog.getByTestId('review-splitter');
    expect(await splitter.getAttribute('aria-label')).toBe(
      'Divider between raw (left) and anonymized (right) of Kitchen 1.mp4',
    );
    // Raw and anonymized are one picture: the same box.
    const [rb, ab] = [
      (await dialog.getByTestId('raw-video').boundingBox())!,
      (await dialog.getByTestId('output-video').boundingBox())!,
    ];
    expect(Math.abs(rb.x - ab.x) + Math.abs(rb.y - ab.y) + Math.abs(rb.width - ab.width)).toBeLessThan(2);

    /** The divider's place as a share of the picture's width, and the raw picture's visible share. */
    const where = async () => {
      const d = (await dialog.locator('.divider').boundingBox())!;
      const shown = await dialog
        .locator('figure.raw')
        .evaluate(
          (f) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { clipPath: string } }).getComputedStyle(f)
              .clipPath,
        );
      return { at: (d.x + d.width / 2 - ab.x) / ab.width, clip: shown };
    };
    await splitter.focus();
    await page.keyboard.press('Home');
    expect(await splitter.inputValue()).toBe('0');
    expect((await where()).at).toBeLessThan(0.02);
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight');
    expect(await splitter.inputValue()).toBe('30');
    const at30 = await where();
    expect(at30.at).toBeGreaterThan(0.28);
    expect(at30.at).toBeLessThan(0.32);
    // The raw picture is cut off right of the divider (70 % of the width hidden).
    expect(at30.clip).toMatch(/inset\(0px (calc\(70%\)|70%) 0px 0px\)/);
    await page.keyboard.press('End');
    expect((await where()).at).toBeGreaterThan(0.98);
    for (let i = 0; i < 50; i++) await page.keyboard.press('ArrowLeft');
    expect(await splitter.inputValue()).toBe('50');
    await shots('split');
    await page.keyboard.press('Escape');
    await expect.poll(modal, POLL).toBeNull();

    // A viewer sees the anonymized video only: no split, no raw.
    await asRole('viewer');
    await row('Kitchen 1.mp4').getByTestId('preview').click();
    await page.getByTestId('preview-dialog').getByTestId('output-video').waitFor();
    expect(await page.getByTestId('review-split').count()).toBe(0);
    expect(await page.getByTestId('raw-video').count()).toBe(0);
    await page.keyboard.press('Escape');
    await asRole('admin');
  });
});

describe('polish', () => {
  it('shows the audit log in words, with names, and the ids beside them', async () => {
    await page.getByTestId('nav-settings').click();
    const texts = page.getByTestId('audit-text');
    await texts.first().waitFor();
    const all = await texts.allTextContents();
    expect(all).toContain("Admin moved clip 'Kitchen 2.mp4' from room Kitchen to room Hall");
    // Deleted since: its name is still told (kept sealed in the entry).
    expect(all).toContain("Admin deleted clip 'Kitchen 2.mp4' (room Hall)");
    expect(all).toContain("Admin deleted clip 'Loose.mp4' (no room)");
    expect(all.some((t) => /^Admin anonymized 1 clip of room Kitchen again with model 'Shipped model'$/.test(t))).toBe(
      true,
    );
    const k2 = page.getByTestId('audit-entry').filter({ hasText: "Admin deleted clip 'Kitchen 2.mp4'" });
    expect(await k2.getByTestId('audit-ref').textContent()).toMatch(/^clip-delete · clip:\d+ · entry #\d+$/);
    await k2.scrollIntoViewIfNeeded();
    await shots('audit-log');
  });

  it('names the shipped model once, by one name', async () => {
    await page.getByTestId('nav-settings').click();
    const select = page.getByLabel('Default model');
    await select.waitFor();
    const options = await select.locator('option').allTextContents();
    expect(options.filter((o) => /shipped/i.test(o))).toEqual(['Shipped model']);
    expect(options.filter((o) => /^default$/i.test(o.trim()))).toEqual([]);
    const names = (await api<{ name: string; isDefault: boolean }[]>('models.list')).value;
    expect(names.find((m) => m.isDefault)!.name).toBe('Shipped model');
  });
});
