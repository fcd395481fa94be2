// The operator's day made clear, in Debian Chromium through browser mode: dialogs that behave
// (modal, centred, focused, Escape, focus back), the admin's synced raw | anonymized review,
// toasts that do not pile up, what a viewer is shown, errors in words, the Library at 900 px and
// the live view's state. Screenshots (1280×800 and 900×800) go to test/e2e/screenshots/ux-*.png.
import fs from 'node:fs';
import path from 'node:path';

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { screenshotDir } from '../helpers/chromium.js';
import { callApi, startApp, type E2eApp } from '../helpers/e2e-app.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

let app: E2eApp;
let page: Page;
let url = '';

// Polls wait up to 10 s (a loaded CI machine is slower than the 1 s default).
const POLL = { timeout: 10_000 };

const shot = (name: string) => page.screenshot({ path: path.join(screenshotDir, `ux-${name}.png`) });

/** Both widths the issue asks for: 1280×800 and 900×800 (the page is left at 1280×800). */
async function shots(name: string): Promise<void> {
  await shot(`${name}-1280`);
  await page.setViewportSize({ width: 900, height: 800 });
  await page.waitForTimeout(150);
  await shot(`${name}-900`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Calls the API from the page (same origin, same session cookie). */
const api = <T = unknown>(method: string, body: unknown = {}) => callApi<T>(page, method, body);

async function asRole(role: 'admin' | 'operator' | 'viewer'): Promise<void> {
  expect((await api('session.switch', { role })).ok).toBe(true);
  await page.reload();
  await expect.poll(() => page.getByTestId('role-badge').textContent(), POLL).toBe(role);
}

// The page's globals as far as these tests use them (the test project has no DOM library).
interface PageEl {
  getAttribute(name: string): string | null;
  matches(selector: string): boolean;
  getBoundingClientRect(): {
    x: number;
    y: number;
    width: number;
    height: number;
    top: number;
    bottom: number;
    left: number;
    right: number;
  };
  href?: string;
  value?: string;
}
interface PageWin {
  document: {
    activeElement: PageEl | null;
    querySelector(selector: string): PageEl | null;
    elementFromPoint(x: number, y: number): PageEl | null;
  };
  innerWidth: number;
  innerHeight: number;
}

// The clip every test works on (a recording made by the live test may join it in the list).
const wardRow = () => page.getByTestId('clip-row').filter({ hasText: 'ward.mp4' });

const activeTestId = () =>
  page.evaluate(() => (globalThis as unknown as PageWin).document.activeElement?.getAttribute('data-testid') ?? null);

/** The open modal dialog: its test id, whether it is :modal, and how far its centre is from the view's. */
const modal = () =>
  page.evaluate(() => {
    const { document, innerWidth, innerHeight } = globalThis as unknown as PageWin;
    const d = document.querySelector('dialog[open]');
    if (!d) return null;
    const r = d.getBoundingClientRect();
    return {
      testid: d.getAttribute('data-testid'),
      modal: d.matches(':modal'),
      focused: document.activeElement === d,
      offCentre: Math.max(Math.abs(r.x + r.width / 2 - innerWidth / 2), Math.abs(r.y + r.height / 2 - innerHeight / 2)),
      inView: r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth,
    };
  });

beforeAll(async () => {
  app = await startApp({ dataDir: tmpDir('spact-e2e-ux-'), model: true, fakeCamera: true });
  ({ page, url } = app);

  // One room with one anonymized clip (2 s test pattern), set up through the API.
  const room = await api<{ id: number }>('rooms.create', { name: 'Ward 3' });
  await page.reload();
  await page.getByTestId('room-select').selectOption({ label: 'Ward 3 (0)' });
  await page
    .getByTestId('file-input')
    .setInputFiles(makeVideo(path.join(tmpDir(), 'ward.mp4'), { width: 160, height: 120, fps: 10, seconds: 3 }));
  await wardRow().waitFor();
  const clips = await api<{ id: number }[]>('clips.list', { roomId: room.value.id });
  expect((await api('clips.anonymize', { clipIds: [clips.value[0]!.id] })).ok).toBe(true);
  for (const end = Date.now() + 60_000; ;) {
    if ((await api<{ outputs: unknown[] }[]>('clips.list', {})).value[0]?.outputs.length) break;
    if (Date.now() > end) throw new Error('the clip was not anonymized in time');
    await new Promise((r) => setTimeout(r, 200));
  }
  await page.reload();
  await wardRow().waitFor();
}, 240_000);

afterAll(() => app?.close());

describe('dialogs that behave', () => {
  it('shows the admin raw | anonymized side by side in a centred modal, one set of controls for both', async () => {
    await asRole('admin');
    const row = wardRow();
    await row.getByTestId('preview').click();
    await expect
      .poll(modal, POLL)
      .toMatchObject({ testid: 'preview-dialog', modal: true, focused: true, inView: true });
    expect((await modal())!.offCentre).toBeLessThan(40);
    const dialog = page.getByTestId('preview-dialog');
    const raw = dialog.getByTestId('raw-video');
    const anon = dialog.getByTestId('output-video');
    await raw.waitFor();
    // Side by side: the same top, the raw one on the left.
    const [rb, ab] = [(await raw.boundingBox())!, (await anon.boundingBox())!];
    expect(Math.abs(rb.y - ab.y)).toBeLessThan(2);
    expect(rb.x + rb.width).toBeLessThanOrEqual(ab.x);
    // One control for both: the raw video has no controls of its own.
    expect(await dialog.locator('video[controls]').count()).toBe(0);
    const state = () =>
      dialog.evaluate((d) =>
        [...d.querySelectorAll('video')].map((v) => ({ paused: v.paused, t: v.currentTime, ready: v.readyState })),
      );
    await expect
      .poll(async () => (await state()).every((v) => v.ready >= 2 && !v.paused), { timeout: 20_000 })
      .toBe(true);
    await dialog.getByTestId('review-play').click();
    await expect.poll(async () => (await state()).every((v) => v.paused), POLL).toBe(true);
    await dialog.getByTestId('review-seek').evaluate((el) => {
      const input = el as unknown as { value: string; dispatchEvent(e: Event): boolean };
      input.value = '1.5';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await expect.poll(async () => (await state()).every((v) => Math.abs(v.t - 1.5) < 0.2), POLL).toBe(true);
    await dialog.getByTestId('review-play').click();
    await expect.poll(async () => (await state()).every((v) => !v.paused), POLL).toBe(true);
    await shots('preview-admin');
    // Escape closes it and the focus goes back to the button that opened it.
    await page.keyboard.press('Escape');
    await expect.poll(modal, POLL).toBeNull();
    expect(await activeTestId()).toBe('preview');
  });

  it('opens the audit report, the raw view and the delete confirmation as modals that Escape closes', async () => {
    await asRole('admin');
    const row = wardRow();
    for (const [opener, testid] of [
      ['audit', 'audit-report'],
      ['raw', 'raw-dialog'],
      ['delete', 'delete-dialog'],
    ] as const) {
      await row.getByTestId('row-menu').click();
      await row.getByTestId(opener).click();
      await expect.poll(modal, POLL).toMatchObject({ testid, modal: true, focused: true, inView: true });
      expect((await modal())!.offCentre, testid).toBeLessThan(40);
      // The page behind is inert: a click on it does not reach it.
      const reachable = await page.getByTestId('nav-settings').evaluate((a) => {
        const r = a.getBoundingClientRect();
        const hit = (globalThis as unknown as PageWin).document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return hit !== null && a.contains(hit as never);
      });
      expect(reachable).toBe(false);
      await shots(`dialog-${testid}`);
      await page.keyboard.press('Escape');
      await expect.poll(modal, POLL).toBeNull();
      // Back on the menu button the item was chosen from.
      expect(await activeTestId()).toBe('row-menu');
    }
    // Keep leaves the clip where it was.
    await row.getByTestId('row-menu').click();
    await row.getByTestId('delete').click();
    await page.getByTestId('confirm-keep').click();
    await expect.poll(modal, POLL).toBeNull();
    expect(await wardRow().count()).toBe(1);
  });

  it('shows a viewer the anonymized video only, and only the screens a viewer can use', async () => {
    await asRole('viewer');
    const nav = await page.locator('nav a').evaluateAll((as) => as.map((a) => a.getAttribute('data-testid')));
    expect(nav).toEqual(['nav-live', 'nav-library', 'nav-settings']);
    // An old link to a screen the role cannot use shows the Library.
    await page.goto(`${new URL(url).origin}/#/export`);
    await expect.poll(() => page.locator('h2').first().textContent(), POLL).toBe('Library');
    const row = wardRow();
    await row.getByTestId('preview').click();
    const dialog = page.getByTestId('preview-dialog');
    await dialog.getByTestId('output-video').waitFor();
    expect(await dialog.getByTestId('raw-video').count()).toBe(0);
    expect(await dialog.getByTestId('review-play').count()).toBe(1);
    await shots('preview-viewer');
    await page.keyboard.press('Escape');
    await asRole('admin');
  });
});

describe('polish', () => {
  it('shows one toast with a count for the same message; errors stay until dismissed, others time out', async () => {
    await asRole('admin');
    await page.getByTestId('nav-library').click();
    for (let i = 0; i < 3; i++) {
      await page.getByTestId('new-room').fill('Ward 3');
      await page.getByRole('button', { name: 'Add room' }).click();
    }
    const errors = page.locator('.toast.error');
    await expect.poll(() => errors.getAttribute('data-count'), POLL).toBe('3');
    expect(await errors.count()).toBe(1);
    expect(await errors.locator('.toast-text').textContent()).toBe('a room named "Ward 3" already exists');
    // The toast's text is the message and its count only (the close button's glyph is drawn by CSS).
    expect(await errors.textContent()).toBe('a room named "Ward 3" already exists×3');
    await page.getByTestId('room-select').selectOption({ label: 'Ward 3 (1)' });
    await page.getByTestId('room-size-save').click();
    const info = page.locator('.toast.info');
    await info.waitFor();
    await shots('toasts');
    // The information goes after a few seconds; the error is still there until dismissed.
    await expect.poll(() => info.count(), { timeout: 8_000 }).toBe(0);
    expect(await errors.count()).toBe(1);
    await errors.getByRole('button', { name: 'Dismiss' }).click();
    expect(await errors.count()).toBe(0);
  });

  it('puts labels beside their checkboxes and radios, and has an icon', async () => {
    await asRole('admin');
    await page.getByTestId('nav-export').click();
    await page.getByLabel('Chosen clips').check();
    const boxes = page.locator('label:has(> input[type="checkbox"]), label:has(> input[type="radio"])');
    expect(await boxes.count()).toBeGreaterThanOrEqual(3);
    for (const label of await boxes.all()) {
      const [lb, ib] = [(await label.boundingBox())!, (await label.locator('input').boundingBox())!];
      // Beside: the box is at the label's left and the label is one line high.
      expect(ib.x - lb.x).toBeLessThan(8);
      expect(lb.height).toBeLessThan(ib.height + 16);
    }
    await shots('export-checkboxes');
    const icon = await page.evaluate(async () => {
      const href = (globalThis as unknown as PageWin).document.querySelector('link[rel="icon"]')?.href;
      if (!href) return null;
      const r = await fetch(href);
      return { status: r.status, svg: (await r.text()).includes('<svg') || href.startsWith('data:image/svg') };
    });
    expect(icon).toEqual({ status: 200, svg: true });
  });
});

describe('errors for people', () => {
  it('says a broken file is not a readable video, without internal paths or tool output', async () => {
    await asRole('admin');
    await page.getByTestId('nav-library').click();
    const broken = path.join(tmpDir(), 'Kamera 2.mp4');
    fs.writeFileSync(broken, 'this is not a video');
    await page.getByTestId('file-input').setInputFiles(broken);
    const error = page.locator('.toast.error').filter({ hasText: 'Kamera 2.mp4' });
    await error.waitFor();
    const text = (await error.locator('.toast-text').textContent())!;
    expect(text).toMatch(/^Kamera 2\.mp4 was not imported: This file is not a video SPAct can read.*MP4/);
    expect(text).not.toMatch(/\/|moov|upload-|ffmpeg|Invalid data/);
    await shots('error-import');
    await error.getByRole('button', { name: 'Dismiss' }).click();
  });

  it('shows the export form rules before anything is sent', async () => {
    await asRole('admin');
    await page.getByTestId('nav-export').click();
    let sent = 0;
    const count = (r: { url(): string }) => void (r.url().endsWith('/api/exports.start') && sent++);
    page.on('request', count);
    await page.getByLabel('Chosen clips').check();
    await page.getByTestId('export-to').fill('exports/today');
    expect(await page.getByTestId('export-problem').textContent()).toBe('Choose at least one anonymized clip.');
    expect(await page.getByTestId('export-start').isDisabled()).toBe(true);
    await page.getByLabel('ward.mp4 (#1)').check();
    expect(await page.getByTestId('export-problem').textContent()).toMatch(/full path/);
    expect(await page.getByTestId('export-start').isDisabled()).toBe(true);
    await shots('export-rules');
    await page.getByTestId('export-to').fill(path.join(tmpDir(), 'out'));
    expect(await page.getByTestId('export-problem').count()).toBe(0);
    expect(await page.getByTestId('export-start').isDisabled()).toBe(false);
    page.off('request', count);
    expect(sent).toBe(0);
  });
});

describe('the Library at 900 px', () => {
  it('keeps duration, size, status and the row menu in view, with a Room column and honest sizes', async () => {
    await asRole('admin');
    await page.getByTestId('nav-library').click();
    await page.setViewportSize({ width: 900, height: 800 });
    const row = wardRow();
    await row.waitFor();
    for (const cell of await row.locator('td').all()) {
      const b = (await cell.boundingBox())!;
      expect(b.x + b.width, (await cell.textContent()) ?? '').toBeLessThanOrEqual(900);
    }
    expect(await page.locator('.scroll-x').evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(1);
    expect(await row.getByTestId('clip-room').textContent()).toBe('Ward 3');
    // A 3 s test pattern is a few KiB, not "0.0 MiB".
    expect(await row.getByTestId('clip-size').textContent()).toMatch(/^\d+(\.\d)? KiB$/);
    await shot('library-900');
    await page.setViewportSize({ width: 1280, height: 800 });
    await shot('library-1280');
  });

  it('opens the row menu from the keyboard and closes it with Escape', async () => {
    await asRole('admin');
    const row = wardRow();
    const trigger = row.getByTestId('row-menu');
    await trigger.focus();
    await page.keyboard.press('Enter');
    await expect.poll(activeTestId, POLL).toBe('anonymize');
    expect(await trigger.getAttribute('aria-expanded')).toBe('true');
    await page.keyboard.press('ArrowDown');
    expect(await activeTestId()).toBe('audit');
    await page.keyboard.press('End');
    expect(await activeTestId()).toBe('delete');
    await page.keyboard.press('ArrowDown');
    expect(await activeTestId()).toBe('anonymize');
    await shots('library-row-menu');
    await page.keyboard.press('Escape');
    await expect.poll(() => trigger.getAttribute('aria-expanded'), POLL).toBe('false');
    expect(await activeTestId()).toBe('row-menu');
    // Enter on an item runs it: the audit dialog opens.
    await page.keyboard.press('Enter');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect.poll(modal, POLL).toMatchObject({ testid: 'audit-report', focused: true });
    await page.keyboard.press('Escape');
    await expect.poll(activeTestId, POLL).toBe('row-menu');
  });

  it('remembers the room filter across a reload', async () => {
    await asRole('admin');
    await page.getByTestId('nav-library').click();
    const select = page.getByTestId('room-select');
    await select.selectOption({ label: 'All rooms' });
    await page.reload();
    await wardRow().waitFor();
    expect(
      await select.evaluate((s) => (s as unknown as { selectedOptions: { text: string }[] }).selectedOptions[0]!.text),
    ).toBe('All rooms');
    await select.selectOption({ label: 'Ward 3 (1)' });
    await page.reload();
    await expect
      .poll(() =>
        select.evaluate((s) => (s as unknown as { selectedOptions: { text: string }[] }).selectedOptions[0]!.text),
      )
      .toBe('Ward 3 (1)');
    expect(await page.getByTestId('room-size').count()).toBe(1);
    await select.selectOption({ label: 'All rooms' });
  });
});

describe('live', () => {
  /** How many pixels of the anonymized canvas are drawn (not transparent). */
  const drawn = () =>
    page.getByTestId('live-anonymized').evaluate((el) => {
      type Canvas2d = {
        width: number;
        height: number;
        getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const c = el as unknown as Canvas2d;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });

  it('shows a red dot and a running timer while recording, and clears the picture and figures on Stop', async () => {
    await asRole('operator');
    await page.getByTestId('nav-live').click();
    await page.getByTestId('live-start').click();
    const figures = page.getByTestId('live-figures');
    await expect.poll(() => figures.textContent(), { timeout: 60_000 }).toMatch(/ ([3-9]|\d{2,}) frames/);
    expect(await drawn()).toBeGreaterThan(0);
    await page.getByTestId('live-record').click();
    const rec = page.getByTestId('live-recording');
    await rec.waitFor();
    expect(
      await rec
        .locator('.dot')
        .evaluate(
          (d) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(d)
              .backgroundColor,
        ),
    ).toBe('rgb(220, 38, 38)');
    // The timer runs: it starts near 0:00 and moves on.
    const startedAt = await page.getByTestId('live-recording-time').textContent();
    expect(startedAt).toMatch(/^0:0[0-2]$/);
    await expect
      .poll(() => page.getByTestId('live-recording-time').textContent(), { timeout: 5_000 })
      .not.toBe(startedAt);
    await shots('live-recording');
    await page.getByTestId('live-stop').click();
    await expect.poll(() => figures.textContent(), POLL).toMatch(/not running/);
    expect(await figures.textContent()).not.toMatch(/fps|frames/);
    expect(await drawn()).toBe(0);
    expect(await page.getByTestId('live-recording').count()).toBe(0);
    await shots('live-stopped');
    await asRole('admin');
  });

  it('plays a registered file camera for a viewer, and clears it on Stop', async () => {
    await asRole('admin');
    const door = makeVideo(path.join(tmpDir(), 'door.mp4'), { width: 160, height: 120, fps: 10, seconds: 30 });
    expect((await api('cameras.create', { name: 'Door', kind: 'file', source: door })).ok).toBe(true);
    await asRole('viewer');
    await page.getByTestId('nav-live').click();
    // This computer's camera is not for a viewer (raw frames would reach the window).
    expect(await page.getByTestId('live-start').isDisabled()).toBe(true);
    await page.getByTestId('live-kind-registered').check();
    await expect
      .poll(() => page.getByTestId('live-camera').locator('option').first().textContent(), POLL)
      .toBe('Door · file · door.mp4');
    await page.getByTestId('live-start').click();
    const figures = page.getByTestId('live-figures');
    await expect.poll(() => figures.textContent(), { timeout: 60_000 }).toMatch(/ ([3-9]|\d{2,}) frames/);
    expect(await drawn()).toBeGreaterThan(0);
    await shots('live-registered-viewer');
    await page.getByTestId('live-stop').click();
    await expect.poll(() => figures.textContent(), POLL).toMatch(/not running/);
    expect(await drawn()).toBe(0);
    await asRole('admin');
  });
});

describe('one Activity area for every job', () => {
  it('lists the jobs with their state after a reload, opens from the header and closes with Escape', async () => {
    await asRole('operator');
    await page.reload();
    await page.getByTestId('activity-button').click();
    const panel = page.locator('#activity-panel');
    await panel.waitFor();
    // The clip's anonymize job of the set-up, read back from the job table (not from this page's events).
    const job = panel.getByTestId('activity-job').filter({ hasText: 'Anonymize' }).first();
    await expect.poll(() => job.getAttribute('data-status'), POLL).toBe('done');
    expect(await job.textContent()).toMatch(/Anonymize · clip \d+\s*done/);
    await shots('activity');
    await page.keyboard.press('Escape');
    await expect.poll(() => panel.count(), POLL).toBe(0);
    expect(await activeTestId()).toBe('activity-button');
  });
});

describe('first run', () => {
  it('walks an admin through set-up from what the library holds, resumable and skippable', async () => {
    await asRole('admin');
    await page.evaluate(() => (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear());
    await page.reload();
    const setup = page.getByTestId('first-run');
    await setup.waitFor();
    // The set-up's room, clip and output are there: ticked off; no admin PIN yet: the first step.
    await expect.poll(() => page.getByTestId('setup-step-room').getAttribute('data-done'), POLL).toBe('true');
    expect(await page.getByTestId('setup-step-anonymize').getAttribute('data-done')).toBe('true');
    expect(await page.getByTestId('setup-step-pin').getAttribute('data-done')).toBe('false');
    await shots('first-run');
    await page.getByTestId('setup-skip').click();
    await expect.poll(() => setup.count(), POLL).toBe(0);
    await page.reload();
    await page.getByTestId('nav-library').waitFor();
    expect(await setup.count()).toBe(0);
  });

  it('signs in as another role from beside the role badge', async () => {
    await asRole('admin');
    await page.getByTestId('sign-in').click();
    await expect.poll(modal, POLL).toMatchObject({ testid: 'sign-in-dialog', modal: true, focused: true });
    await page.getByTestId('sign-in-dialog').getByTestId('role-select').selectOption('operator');
    await page.getByTestId('sign-in-dialog').getByTestId('role-switch').click();
    await expect.poll(() => page.getByTestId('role-badge').textContent(), POLL).toBe('operator');
    await page.keyboard.press('Escape');
    await expect.poll(modal, POLL).toBeNull();
    expect(await activeTestId()).toBe('sign-in');
    await asRole('admin');
  });
});
