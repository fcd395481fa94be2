// Fine-tune you can judge and exports that say which model made each clip, in Debian Chromium
// through browser mode: a run's end state and curves after a reload, the "active model" badge
// after Promote, the export folder picker (only under the allowed roots), the prompt before a
// non-empty folder, the warning when a room's clips were made by different models, and a failed
// export kept in History with its reason. Screenshots (1280×800 and 900×800) go to
// test/e2e/screenshots/ftx-*.png.
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
// The only folder the picker may show, with an empty and a non-empty destination in it.
const exportRoot = tmpDir('spact-e2e-roots-');
const emptyDest = path.join(exportRoot, 'empty-dest');
const fullDest = path.join(exportRoot, 'full-dest');
let roomId = 0;
let clipIds: number[] = [];
let runId = 0;

const POLL = { timeout: 30_000 };

async function shots(name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, `ftx-${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 900, height: 800 });
  await page.screenshot({ path: path.join(screenshotDir, `ftx-${name}-900.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

const api = <T>(method: string, body: unknown = {}) => callApi<T>(page, method, body);

/** Anonymizes clips (with the room's active model) and waits until each has one more output. */
async function anonymize(ids: number[]): Promise<void> {
  const before = await api<{ id: number; outputs: unknown[] }[]>('clips.list');
  const count = (list: { id: number; outputs: unknown[] }[], id: number) =>
    list.find((c) => c.id === id)?.outputs.length ?? 0;
  expect((await api('clips.anonymize', { clipIds: ids })).ok).toBe(true);
  // A plain loop: expect.poll is not allowed in beforeAll, where this also runs.
  for (const end = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 200))) {
    const now = (await api<{ id: number; outputs: unknown[] }[]>('clips.list')).value;
    if (ids.every((id) => count(now, id) > count(before.value, id))) return;
    if (Date.now() > end) throw new Error(`clips ${ids.join(', ')} were not anonymized in time`);
  }
}

beforeAll(async () => {
  fs.mkdirSync(emptyDest);
  fs.mkdirSync(fullDest);
  fs.writeFileSync(path.join(fullDest, 'notes.txt'), 'kept');
  process.env.SPACT_EXPORT_ROOTS = exportRoot;
  app = await startApp({ model: true });
  page = app.page;
  const room = await api<{ id: number }>('rooms.create', { name: 'Ward 3' });
  roomId = room.value.id;
  const dir = tmpDir('spact-e2e-clips-');
  const files = ['Morning round.mp4', 'Evening round.mp4'].map((n) =>
    makeVideo(path.join(dir, n), { width: 96, height: 72, fps: 10, seconds: 5 }),
  );
  const imported = await api<{ imported: { id: number }[] }>('clips.import', { paths: files, roomId });
  clipIds = imported.value.imported.map((c) => c.id);
  expect(clipIds).toHaveLength(2);
  await anonymize(clipIds);
}, 240_000);

afterAll(async () => {
  delete process.env.SPACT_EXPORT_ROOTS;
  await app?.close();
});

describe('fine-tune you can judge', () => {
  it('keeps a finished run at 100 % with its summary and curves, also after a reload', async () => {
    await page.getByTestId('nav-finetune').click();
    await page.getByTestId('ft-room').waitFor();
    // The smallest run the engine tests use: the synthetic recipe, 2 steps on 8 clips.
    const run = await api<{ id: number }>('runs.start', { roomId, recipe: 'synthroom', steps: 2, clips: 8 });
    expect(run.ok).toBe(true);
    runId = run.value.id;
    await expect
      .poll(async () => (await api<{ status: string }>('runs.get', { runId })).value.status, { timeout: 180_000 })
      .toMatch(/done|failed|cancelled/);
    expect((await api<{ status: string; error: string | null }>('runs.get', { runId })).value).toMatchObject({
      status: 'done',
      error: null,
    });
    // A notice when it ends, where the eye is.
    await expect
      .poll(() => page.locator('.toast .toast-text').allTextContents(), POLL)
      .toContainEqual(expect.stringMatching(new RegExp(`run #${runId} is done`)));
    const end = page.getByTestId('ft-end');
    await expect.poll(() => end.getAttribute('data-status'), POLL).toBe('done');
    expect(await end.locator('h3').textContent()).toMatch(/done \(100 %\)/);
    await page.reload();
    await page.getByTestId('nav-finetune').click();
    await expect.poll(() => page.getByTestId('ft-end').getAttribute('data-status'), POLL).toBe('done');
    const summary = await page.getByTestId('ft-summary').textContent();
    expect(summary).toMatch(/2 of 2 training steps; last losses: utility \(distillation\) \d+\.\d{3}/);
    expect(summary).toMatch(/took \d+ (s|min)/);
    expect(summary).not.toMatch(/ETA|minimax|L_B|init-TB/);
    // The curves come from the run's stored history, not only live events.
    const metrics = await api<unknown[]>('runs.metrics', { runId });
    expect(metrics.value.length).toBeGreaterThan(0);
    const paths = await page
      .locator('svg[aria-label="Loss curves of the fine-tuning run"] path')
      .evaluateAll((ps) =>
        ps.map((p) => (p as unknown as { getAttribute(n: string): string | null }).getAttribute('d') ?? ''),
      );
    expect(paths.some((d) => d.startsWith('M'))).toBe(true);
    expect(await page.getByTestId('ft-progress').count()).toBe(0); // no empty "step 0 · ETA –" bar
    await shots('finetune-end');
  });

  it('promotes after a confirmation and shows the active model badge on the run and in the model list', async () => {
    const row = page.getByTestId('run-row').filter({ hasText: `#${runId}` });
    expect(await row.getByTestId('ft-active-badge').count()).toBe(0);
    await row.getByTestId('ft-promote').click();
    const confirm = page.getByTestId('ft-promote-panel');
    await confirm.waitFor();
    // The room's models compared: a synthetic run has no held-out audit, and that is said in words.
    expect(await confirm.getByTestId('ft-pu-plot').textContent()).toMatch(/not audited/);
    expect(await confirm.getByTestId('ft-pu-classic').textContent()).toMatch(/Blur and pixelation: not measured/);
    await confirm.getByTestId('ft-promote-confirm').click();
    await expect.poll(() => row.getByTestId('ft-active-badge').count(), POLL).toBe(1);
    expect(await row.getByTestId('ft-promote').count()).toBe(0);
    const options = await page.locator('select option').allTextContents();
    expect(options.filter((o) => /active model of Ward 3/.test(o))).toHaveLength(1);
    await page.reload();
    await page.getByTestId('nav-finetune').click();
    await expect
      .poll(
        () =>
          page
            .getByTestId('run-row')
            .filter({ hasText: `#${runId}` })
            .getByTestId('ft-active-badge')
            .count(),
        POLL,
      )
      .toBe(1);
    await shots('finetune-promoted');
  });

  it("plots the room's models from their held-out audits, the active one marked", async () => {
    // A room run's selection.json as room-selection.ts writes it (figures for the plot to draw;
    // a synthetic run has none of its own).
    const audit = (id: number, found: number) => ({
      tracks: 4,
      chance: 0.25,
      worstWithRaw: id,
      worstAnonymizedOnly: id / 2,
      silhouetteWorstWithRaw: 0.3,
      silhouetteWorstAnonymizedOnly: 0.3,
      personRecall: found,
      poseAgreement: 0.8,
      verdict: 'test',
    });
    const dir = path.join(app.dataDir, 'runs', `run-${runId}`);
    fs.writeFileSync(
      path.join(dir, 'selection.json'),
      JSON.stringify({
        part: { file: path.join(dir, 'held-out.mp4'), startS: 0, endS: 3 },
        workingSize: 112,
        rule: 'lowest identity with people found within 5 points of the base',
        base: audit(0.9, 0.95),
        candidates: [{ checkpoint: path.join(dir, 'selected.pt'), minimaxStep: 2, audit: audit(0.4, 0.9) }],
        chosen: path.join(dir, 'selected.pt'),
        warnings: [],
      }),
    );
    await page.reload();
    await page.getByTestId('nav-finetune').click();
    const plot = page.getByTestId('ft-pu-plot').first();
    await plot.waitFor();
    expect(await plot.locator('svg circle').count()).toBe(1);
    expect(await plot.locator('svg rect[width="8"]').count()).toBe(1);
    const text = await plot.textContent();
    expect(text).toMatch(new RegExp(`run #${runId} \\(active\\)`));
    expect(text).toMatch(new RegExp(`before run #${runId}`));
    expect(text).toMatch(/Blur and pixelation: not measured/);
    // The point sits where its figures say: 40 % re-identified, 90 % found.
    const cx = Number(await plot.locator('svg circle').getAttribute('cx'));
    const cy = Number(await plot.locator('svg circle').getAttribute('cy'));
    expect(cx).toBeCloseTo(48 + 0.4 * 300, 0);
    expect(cy).toBeCloseTo(240 - 36 - 0.9 * 192, 0);
    await shots('finetune-plot');
  });
});

describe('exports that name their models', () => {
  it('lists each clip with its model and warns before mixing models', async () => {
    // One clip anonymized again with the promoted model: the room now holds outputs of two models.
    await anonymize([clipIds[0]!]);
    await page.getByTestId('nav-export').click();
    await page.getByTestId('export-room').selectOption({ label: 'Ward 3' });
    const plan = page.getByTestId('export-plan');
    await expect.poll(() => page.getByTestId('export-plan-row').count(), POLL).toBe(2);
    expect(await plan.textContent()).toMatch(/anonymized by 2 different models/);
    expect(await page.getByTestId('export-mixed-note').count()).toBe(1);
    const rows = await page.getByTestId('export-plan-row').allTextContents();
    expect(rows.find((r) => /Morning.round/.test(r))).toMatch(new RegExp(`run ${runId}.*active model`));
    expect(rows.find((r) => /Evening.round/.test(r))).toMatch(/older model/);
    await shots('export-plan');
  });

  it('picks the folder in a browser limited to the allowed roots, refusing relative paths', async () => {
    await page.getByTestId('export-to').fill('exports/today');
    expect(await page.getByTestId('export-problem').textContent()).toMatch(/full path/);
    expect(await page.getByTestId('export-start').isDisabled()).toBe(true);
    // A folder outside the roots is not browsed (the picker starts at the roots instead).
    await page.getByTestId('export-to').fill('/etc');
    await page.getByTestId('export-choose').click();
    const picker = page.getByTestId('folder-picker');
    await picker.waitFor();
    expect(await picker.getByTestId('folder-picker-problem').textContent()).toMatch(/outside the folders/);
    await picker.getByTestId('folder-entry').first().click();
    await expect
      .poll(() => picker.getByTestId('folder-picker-path').textContent(), POLL)
      .toBe(fs.realpathSync(exportRoot));
    expect(await picker.getByTestId('folder-entry').allTextContents()).toEqual(['📁 empty-dest', '📁 full-dest']);
    // The roots' parent is not offered.
    expect(await picker.getByTestId('folder-up').textContent()).toMatch(/Back to the allowed folders/);
    await picker.getByTestId('folder-entry').filter({ hasText: 'empty-dest' }).click();
    await expect.poll(() => picker.getByTestId('folder-picker-entries').textContent(), POLL).toBe('empty');
    await shots('folder-picker');
    await picker.getByTestId('folder-picker-use').click();
    expect(await page.getByTestId('export-to').inputValue()).toBe(fs.realpathSync(emptyDest));
    expect(await page.getByTestId('folder-picker').count()).toBe(0);
  });

  it('asks before mixing models, then exports with each clip’s model named in the manifest', async () => {
    await page.getByTestId('export-start').click();
    const mixed = page.getByTestId('export-mixed');
    await mixed.waitFor();
    expect(await mixed.textContent()).toMatch(/anonymized by different models.*1 clip\(s\).*1 clip\(s\)/s);
    expect(fs.readdirSync(emptyDest)).toEqual([]); // nothing written before the choice
    await shots('export-mixed');
    await mixed.getByTestId('export-mixed-anyway').click();
    await page.getByTestId('export-summary').waitFor({ timeout: 60_000 });
    const manifest = JSON.parse(fs.readFileSync(path.join(emptyDest, 'manifest.json'), 'utf8')) as {
      items: { model: { id: number } }[];
      models: { id: number; clips: number }[];
      mixedModels?: boolean;
    };
    expect(manifest.mixedModels).toBe(true);
    expect(new Set(manifest.items.map((i) => i.model.id)).size).toBe(2);
    expect(manifest.models.map((m) => m.clips)).toEqual([1, 1]);
    // History names the models of the export.
    await expect
      .poll(() => page.getByTestId('export-history-row').first().textContent(), POLL)
      .toMatch(/Exported.*\(1\).*\(1\)/);
  });

  it('asks before writing into a folder that is not empty', async () => {
    await page.getByTestId('export-to').fill(fullDest);
    await page.getByTestId('export-start').click();
    const confirm = page.getByTestId('export-confirm');
    await confirm.waitFor();
    expect(await confirm.textContent()).toMatch(/already holds files/);
    await shots('export-not-empty');
    await confirm.getByRole('button', { name: 'Choose another folder' }).click();
    expect(fs.readdirSync(fullDest)).toEqual(['notes.txt']);
  });

  it('lists a failed export in History with its reason, also after a reload', async () => {
    // A clip without an anonymized output stops a room export in its job.
    const dir = tmpDir('spact-e2e-raw-');
    const raw = makeVideo(path.join(dir, 'Night round.mp4'), { width: 96, height: 72, fps: 8, seconds: 1 });
    expect((await api('clips.import', { paths: [raw], roomId })).ok).toBe(true);
    const dest = path.join(exportRoot, 'failing');
    const started = await api<{ jobId: number }>('exports.start', { roomId, to: dest, allowMixedModels: true });
    expect(started.ok).toBe(true);
    await page.reload();
    await page.getByTestId('nav-export').click();
    const failed = page.getByTestId('export-history-row').filter({ hasText: 'Failed' });
    await expect.poll(() => failed.count(), POLL).toBe(1);
    expect(await failed.textContent()).toMatch(
      /failing.*Failed:.*clip "Night.round.mp4" \(#3\) has no anonymized output: anonymize it first/s,
    );
    expect(fs.existsSync(path.join(dest, 'manifest.json'))).toBe(false);
    await shots('export-history');
  });

  it('anonymizes the clips again with the active model when the operator chooses so', async () => {
    await page.getByTestId('export-to').fill(path.join(exportRoot, 'one-model'));
    await page.getByTestId('export-start').click();
    const mixed = page.getByTestId('export-mixed');
    await mixed.waitFor();
    await mixed.getByTestId('export-mixed-reanonymize').click();
    await expect
      .poll(async () => (await page.getByTestId('export-plan-summary').textContent())?.trim(), { timeout: 120_000 })
      .toMatch(new RegExp(`3 clip\\(s\\), all anonymized by room \\d+ run ${runId}\\.$`));
    expect(await page.getByTestId('export-mixed-note').count()).toBe(0);
    expect(await page.getByTestId('export-plan').textContent()).not.toMatch(/older model|not anonymized/);
  });
});
