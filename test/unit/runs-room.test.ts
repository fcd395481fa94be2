// Room fine-tunes as the app runs them (runs.* of the contract): the room's working size, the
// shared judges, status messages as run events, the run view (recipe, working size, selection,
// warnings) — on a real clip of pedestrians — and the contract's validation of the new fields.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { events as contractEvents, methods, type RunSelectionView, type RunView } from '../../electron/contract.js';
import { ffmpegPath } from '../../electron/core/media/ffmpeg.js';
import { createCoreServices } from '../../electron/core/services.js';
import { projectRoot } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { tinyModel } from '../helpers/video.js';

const excerpt = path.join(projectRoot, 'test/fixtures/footage/room-a-excerpt.mp4');

/** The excerpt's first 4 s, its frames as they are (stream copy): fewer frames to label. */
function firstSeconds(seconds: number): string {
  const file = path.join(tmpDir('spact-runs-room-clip-'), 'square.mp4');
  const r = spawnSync(ffmpegPath(), ['-v', 'error', '-i', excerpt, '-t', String(seconds), '-c', 'copy', '-y', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cutting the excerpt failed: ${r.stderr}`);
  return file;
}

/** The screen's plain-words helpers (renderer/src/lib/run-audit.ts: bundler-style imports, so
 *  loaded through vitest's resolver rather than type-checked with the Node tests). */
interface RunAuditWords {
  beforeAfterText(s: RunSelectionView): string;
  comparisonRows(s: RunSelectionView): { label: string; before: string; after: string }[];
  phaseText(recipe: 'room' | 'synthroom', phase: string): string;
}
const words = (): Promise<RunAuditWords> =>
  import(pathToFileURL(path.join(projectRoot, 'renderer/src/lib/run-audit.ts')).href) as Promise<RunAuditWords>;
type Services = ReturnType<typeof createCoreServices>;
let services: Services | undefined;

async function call<T>(s: Services, method: string, req: unknown): Promise<T> {
  const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
  return r.value as T;
}

afterAll(async () => {
  await services?.close();
});

describe('room fine-tunes in the app', () => {
  it("fine-tuning uses the room's working size", async () => {
    const dataDir = tmpDir('spact-runs-room-');
    services = createCoreServices({ dataDir, role: 'operator' });
    const s = services;
    const seen: { event: string; payload: unknown }[] = [];
    s.events.subscribe((event, payload) => seen.push({ event, payload }));
    const room = await call<{ id: number }>(s, 'rooms.create', { name: 'Square' });
    // 4 s of the excerpt (several pedestrians followed): a room's camera all the same.
    const clip = firstSeconds(4);
    const imported = await call<{ imported: unknown[] }>(s, 'clips.import', { paths: [clip], roomId: room.id });
    expect(imported.imported).toHaveLength(1);
    await call(s, 'rooms.setSize', { roomId: room.id, workingSize: 288 });
    const base = s.core.resolveModel(await tinyModel());

    const started = await call<RunView>(s, 'runs.start', { roomId: room.id, baseModelId: base.id, steps: 2 });
    expect(started).toMatchObject({ recipe: 'room', steps: 2, status: 'queued', selection: null, modelId: null });
    const job = s.core.jobs
      .list()
      .find((j) => j.kind === 'finetune' && (j.payload as { runId: number }).runId === started.id);
    const done = await s.core.jobs.wait(job!.id);
    expect(done.status, done.error ?? '').toBe('done');

    // The dataset was made at the room's working size: 288 px short side of a 768×576 camera.
    const runDir = path.join(dataDir, 'runs', `run-${started.id}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(runDir, 'footage-data', 'room.json'), 'utf8')) as {
      width: number;
      height: number;
    };
    expect([manifest.width, manifest.height]).toEqual([384, 288]);
    // A finished run cannot be resumed: its cached raw frames are gone, its manifest stays.
    expect(fs.readdirSync(path.join(runDir, 'footage-data')).filter((f) => !f.endsWith('.json'))).toEqual([]);
    // The judges' findings are cached in the data folder, for the next fine-tune of the same footage.
    expect(fs.readdirSync(path.join(dataDir, 'cache', 'judges', 'pseudo-labels')).length).toBeGreaterThan(0);

    const view = await call<RunView>(s, 'runs.get', { runId: started.id });
    expect(methods['runs.get'].response.parse(view)).toEqual(view);
    expect(view).toMatchObject({ recipe: 'room', status: 'done', workingSize: 288, progress: 1 });
    expect(view.modelId).not.toBeNull();
    // 4 s of footage is too short to hold a part out: the last checkpoint, and a warning that says so.
    expect(view.selection).toBeNull();
    expect(view.warnings.join('\n')).toMatch(/too short to hold a part out/);
    const models = await call<{ id: number; runId: number | null }[]>(s, 'models.list', {});
    expect(models.find((m) => m.id === view.modelId)?.runId).toBe(started.id);
    const list = await call<RunView[]>(s, 'runs.list', {});
    expect(methods['runs.list'].response.parse(list)).toEqual(list);
    expect(list[0]).toEqual(view);

    // Status messages reach the screen as run events, in the contract's shape.
    const runEvents = seen
      .filter((e) => e.event === 'run.progress')
      .map((e) => e.payload as { message?: string; phase: string });
    for (const e of runEvents) expect(contractEvents['run.progress'].safeParse(e).success).toBe(true);
    expect(
      runEvents.some((e) => e.phase === 'labelling' && /labelling the footage at 288 px/.test(e.message ?? '')),
    ).toBe(true);
    expect(runEvents.some((e) => e.phase === 'minimax' && e.message === undefined)).toBe(true);
    const jobMessages = seen
      .filter((e) => e.event === 'job.updated' && (e.payload as { id: number }).id === job!.id)
      .map((e) => (e.payload as { message: string | null }).message);
    expect(jobMessages.some((m) => /labelling the footage/.test(m ?? ''))).toBe(true);

    // A promoted room run becomes the room's active model.
    const promoted = await call<{ activeModelId: number }>(s, 'runs.promote', { runId: started.id, roomId: room.id });
    expect(promoted.activeModelId).toBe(view.modelId);
  }, 600_000);
});

describe('the runs contract', () => {
  const start = methods['runs.start'].request;
  it('validates the recipe, and clips only for synthroom', () => {
    expect(start.safeParse({ roomId: 1 }).success).toBe(true);
    expect(start.safeParse({ roomId: 1, recipe: 'room', steps: 300 }).success).toBe(true);
    expect(start.safeParse({ roomId: 1, recipe: 'synthroom', steps: 10, clips: 64 }).success).toBe(true);
    expect(start.safeParse({ roomId: 1, recipe: 'lab' }).success).toBe(false);
    expect(start.safeParse({ roomId: 1, clips: 64 }).success).toBe(false);
    expect(start.safeParse({ roomId: 1, recipe: 'room', clips: 64 }).success).toBe(false);
    expect(start.safeParse({ roomId: 1, steps: 0 }).success).toBe(false);
    expect(start.safeParse({ roomId: 1, size: 288 }).success).toBe(false);
    expect(methods['runs.get'].request.safeParse({ runId: 0 }).success).toBe(false);
  });

  const audit = (identity: number, recall: number) => ({
    tracks: 10,
    chance: 0.1,
    worstWithRaw: identity,
    worstAnonymizedOnly: identity / 2,
    silhouetteWorstWithRaw: 0.15,
    silhouetteWorstAnonymizedOnly: 0.12,
    personRecall: recall,
    poseAgreement: 0.9,
    verdict: 'people can still be told apart',
  });
  const selection: RunSelectionView = {
    part: { clipId: 3, name: 'square.mp4', startS: 50, endS: 60 },
    workingSize: 288,
    rule: 'lowest worst identity …',
    base: audit(0.58, 0.98),
    candidates: [
      { name: 'step-000075.pt', minimaxStep: 75, chosen: false, audit: audit(0.4, 0.97) },
      { name: 'step-000150.pt', minimaxStep: 150, chosen: true, audit: audit(0.22, 0.96) },
    ],
    warnings: [],
  };

  it('carries the audit before and after, and the screen reads it in plain words', async () => {
    const { beforeAfterText, comparisonRows, phaseText } = await words();
    const view = {
      id: 1,
      kind: 'finetune',
      roomId: 1,
      recipe: 'room',
      status: 'done',
      progress: 1,
      steps: 300,
      workingSize: 288,
      error: null,
      modelId: 2,
      createdAt: 'now',
      finishedAt: 'now',
      final: { loss_T: 0.1 },
      selection,
      warnings: [],
    };
    expect(methods['runs.get'].response.parse(view)).toEqual(view);
    expect(methods['runs.get'].response.safeParse({ ...view, recipe: undefined }).success).toBe(false);
    const bad = { ...selection, base: { ...selection.base, personRecall: 1.5 } };
    expect(methods['runs.get'].response.safeParse({ ...view, selection: bad }).success).toBe(false);
    expect(methods['runs.get'].response.parse({ ...view, selection: null }).selection).toBeNull();

    expect(beforeAfterText(selection)).toBe(
      'After fine-tuning, the best attacker identifies people 22% of the time (before: 58%; guessing 10%); ' +
        'people still found: 96% (before 98%); poses kept: 90% (before 90%).',
    );
    expect(comparisonRows(selection)[0]).toEqual({
      label: 'Best attacker holding raw pictures of the people',
      before: '58%',
      after: '22%',
    });
    // Too few people followed: said so, never a figure.
    const few = {
      ...selection,
      candidates: [{ ...selection.candidates[1]!, audit: { ...audit(0, 0.9), tracks: 1, chance: null } }],
    };
    expect(beforeAfterText(few)).toMatch(/identity could not be compared \(only 1 person followed/);
    expect(phaseText('room', 'init-TB')).toBe("learning the room's people");
    expect(phaseText('room', 'minimax')).toBe('training the anonymizer');
    expect(phaseText('room', 'selecting')).toBe('choosing the model on held-out footage');
  });
});
