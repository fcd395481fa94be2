// The camera registry and privacy masks in Settings, in Debian Chromium through browser mode: an
// admin adds a file camera and an RTSP camera whose URL carries a password (never shown again),
// draws a mask on the file camera's picture and saves it, removes a camera through the
// confirmation dialog; a viewer sees the list without controls. Screenshots (1280×800 and 900×800)
// go to test/e2e/screenshots/cameras-*.png.
import path from 'node:path';

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { screenshotDir } from '../helpers/chromium.js';
import { callApi, startApp, type E2eApp } from '../helpers/e2e-app.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

let app: E2eApp;
let page: Page;
let video = '';

const POLL = { timeout: 10_000 };
const SECRET_URL = 'rtsp://user:secret@127.0.0.1:9/x';

/** Both widths: 1280×800 and 900×800 (the page is left at 1280×800). */
async function shots(name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, `cameras-${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 900, height: 800 });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(screenshotDir, `cameras-${name}-900.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Calls the API from the page (same origin, same session cookie). */
const api = <T = unknown>(method: string, body: unknown = {}) => callApi<T>(page, method, body);

async function openSettings(): Promise<void> {
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('camera-settings').waitFor();
}

const row = (name: string) => page.getByTestId('camera-row').filter({ hasText: name });

interface CameraView {
  id: number;
  name: string;
  source: string;
  hasCredentials: boolean;
  masks: [number, number][][];
}

beforeAll(async () => {
  video = makeVideo(path.join(tmpDir(), 'door.mp4'), { width: 160, height: 120, fps: 10, seconds: 3 });
  app = await startApp({ dataDir: tmpDir('spact-e2e-cameras-'), model: true });
  ({ page } = app);
  expect((await api('rooms.create', { name: 'Ward 3' })).ok).toBe(true);
  await page.reload();
  await openSettings();
}, 120_000);

afterAll(() => app?.close());

describe('the camera registry in Settings', () => {
  it('lets an admin add a file camera and an RTSP camera whose password is never shown', async () => {
    await expect.poll(() => page.getByTestId('cameras-empty').count(), POLL).toBe(1);
    const form = page.getByTestId('camera-add');
    await form.getByTestId('camera-new-name').fill('Ward door');
    await form.getByTestId('camera-new-room').selectOption({ label: 'Ward 3' });
    await form.getByTestId('camera-new-kind').selectOption('file');
    await form.getByTestId('camera-new-source').fill(video);
    await form.getByTestId('camera-add-submit').click();
    await row('Ward door').waitFor(POLL);
    // A file is shown by its base name, never its path.
    expect(await row('Ward door').getByTestId('camera-source').textContent()).toBe('door.mp4');
    expect(await row('Ward door').textContent()).toContain('Ward 3');
    expect(await row('Ward door').getByTestId('camera-masks').textContent()).toBe('0 masks');

    await form.getByTestId('camera-new-name').fill('Corridor');
    await form.getByTestId('camera-new-kind').selectOption('rtsp');
    await form.getByTestId('camera-new-source').fill(SECRET_URL);
    await form.getByTestId('camera-add-submit').click();
    await row('Corridor').waitFor(POLL);
    expect(await row('Corridor').getByTestId('camera-source').textContent()).toBe('rtsp://127.0.0.1:9/x');
    expect(await row('Corridor').getByTestId('camera-credentials').textContent()).toContain('credentials stored');
    // The typed URL does not stay in the form, the page or what the core sends.
    expect(await form.getByTestId('camera-new-source').inputValue()).toBe('');
    expect(await page.content()).not.toContain('secret');
    expect(await page.locator('body').innerText()).not.toContain('secret');
    expect(JSON.stringify(await api('cameras.list'))).not.toContain('secret');
    await shots('settings');
  });

  it('draws a mask on the file camera picture, keeps it after a reload, and knows its keys', async () => {
    await row('Ward door').getByTestId('camera-edit-masks').click();
    const editor = page.getByTestId('mask-editor');
    await editor.waitFor();
    const explain = (await editor.getByTestId('mask-explain').textContent())!.replace(/\s+/g, ' ');
    expect(explain).toMatch(/live view and burned into clips imported for this camera/);
    expect(explain).toMatch(/clips imported earlier keep the masks/i);
    // A frame of the camera (its 160×120 anonymized picture), not the neutral grid.
    await expect
      .poll(() => editor.getByTestId('mask-picture').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('frame');
    const surface = editor.getByTestId('mask-surface');
    await surface.scrollIntoViewIfNeeded();
    const box = (await surface.boundingBox())!;
    expect(box.width / box.height).toBeCloseTo(160 / 120, 1);
    const at = (fx: number, fy: number) => page.mouse.click(box.x + fx * box.width, box.y + fy * box.height);

    // Keys: Backspace removes the last point, Escape cancels the polygon being drawn.
    await at(0.8, 0.8);
    await at(0.9, 0.8);
    expect(await surface.locator('circle').count()).toBe(2);
    await page.keyboard.press('Backspace');
    expect(await surface.locator('circle').count()).toBe(1);
    await page.keyboard.press('Escape');
    expect(await surface.locator('circle').count()).toBe(0);
    expect(await editor.isVisible()).toBe(true);

    // Four points, closed by clicking the first one.
    const square: [number, number][] = [
      [0.2, 0.2],
      [0.6, 0.2],
      [0.6, 0.6],
      [0.2, 0.6],
    ];
    for (const [x, y] of square) await at(x, y);
    expect(await surface.locator('circle').count()).toBe(4);
    await at(0.2, 0.2);
    expect(await editor.getByTestId('mask-polygon').count()).toBe(1);
    expect(await surface.locator('circle').count()).toBe(0);
    expect(await editor.getByTestId('mask-count').textContent()).toContain('not saved yet');
    await shots('masks');
    await editor.getByTestId('mask-save').click();
    await expect.poll(() => row('Ward door').getByTestId('camera-masks').textContent(), POLL).toBe('1 mask');
    const saved = (await api<CameraView[]>('cameras.list')).value.find((c) => c.name === 'Ward door')!;
    expect(saved.masks).toHaveLength(1);
    saved.masks[0]!.forEach(([x, y], i) => {
      expect(Math.abs(x - square[i]![0])).toBeLessThan(0.02);
      expect(Math.abs(y - square[i]![1])).toBeLessThan(0.02);
    });

    await page.reload();
    await openSettings();
    await expect.poll(() => row('Ward door').getByTestId('camera-masks').textContent(), POLL).toBe('1 mask');
    expect(await page.content()).not.toContain('secret');
  });

  it('draws on a neutral grid when the stream gives no picture, changes a camera, removes one after asking', async () => {
    await row('Corridor').getByTestId('camera-edit-masks').click();
    const editor = page.getByTestId('mask-editor');
    await expect
      .poll(() => editor.getByTestId('mask-picture').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('grid');
    const box = (await editor.getByTestId('mask-surface').boundingBox())!;
    expect(box.width / box.height).toBeCloseTo(16 / 9, 1);
    expect(await page.content()).not.toContain('secret');
    // Two points are not a mask: saving says so and sends nothing.
    const at = (fx: number, fy: number) => page.mouse.click(box.x + fx * box.width, box.y + fy * box.height);
    await at(0.1, 0.1);
    await at(0.3, 0.1);
    await editor.getByTestId('mask-save').click();
    await expect.poll(() => page.locator('.toast.error').last().textContent(), POLL).toContain('at least 3');
    expect((await api<CameraView[]>('cameras.list')).value.find((c) => c.name === 'Corridor')!.masks).toEqual([]);
    await editor.getByTestId('mask-close').click();
    expect(await editor.count()).toBe(0);

    // Renamed and its source replaced: the new password is not shown either.
    await row('Corridor').getByTestId('camera-edit').click();
    const edit = page.getByTestId('camera-edit-dialog');
    await edit.getByTestId('camera-edit-name').fill('Corridor east');
    await edit.getByTestId('camera-edit-source').fill('rtsp://admin:hunter2@127.0.0.1:9/y');
    await edit.getByTestId('camera-edit-save').click();
    await expect
      .poll(() => row('Corridor east').getByTestId('camera-source').textContent(), POLL)
      .toBe('rtsp://127.0.0.1:9/y');
    expect(await row('Corridor east').getByTestId('camera-credentials').count()).toBe(1);
    expect(await page.getByTestId('camera-edit-dialog').count()).toBe(0);
    expect(await page.content()).not.toMatch(/hunter2|secret/);

    await row('Corridor').getByTestId('camera-remove').click();
    const dialog = page.getByTestId('camera-remove-dialog');
    await dialog.waitFor();
    await dialog.getByTestId('camera-remove-confirm').click();
    await expect.poll(() => row('Corridor').count(), POLL).toBe(0);
    expect(await row('Ward door').count()).toBe(1);
  });

  it('shows a viewer the list without add, change or mask controls', async () => {
    expect((await api('session.switch', { role: 'viewer' })).ok).toBe(true);
    await page.reload();
    await expect.poll(() => page.getByTestId('role-badge').textContent(), POLL).toBe('viewer');
    await openSettings();
    await row('Ward door').waitFor(POLL);
    expect(await row('Ward door').getByTestId('camera-masks').textContent()).toBe('1 mask');
    for (const id of ['camera-add', 'camera-edit', 'camera-edit-masks', 'camera-remove'])
      expect(await page.getByTestId(id).count()).toBe(0);
    await shots('viewer');
  });
});
