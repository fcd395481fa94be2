import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { openAppCore } from '../../electron/core/app-core.js';
import { openDatabase } from '../../electron/core/db/database.js';
import { SqliteJobRunner } from '../../electron/core/jobs/job-runner.js';
import { spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

let model = '';
beforeAll(async () => {
  model = await tinyModel();
}, 120_000);

describe('library CLI: a day scripted without the UI', () => {
  it('rooms → import → clips → anonymize --clips → export', async () => {
    const data = tmpDir('spact-cli-data-');
    const videos = tmpDir('spact-cli-videos-');
    const a = makeVideo(path.join(videos, 'morning.mp4'), { seconds: 1 });
    const b = makeVideo(path.join(videos, 'evening.mp4'), { seconds: 1 });
    const dd = ['--data-dir', data];

    expect((await spact(['rooms', 'add', 'Room 3', ...dd])).code).toBe(0);
    const imp = await spact(['import', a, b, '--room', 'Room 3', '--json', ...dd]);
    expect(imp.code, imp.stderr).toBe(0);
    const ids = JSON.parse(imp.stdout).imported.map((c: { id: number }) => c.id);
    expect(ids).toHaveLength(2);

    const rooms = JSON.parse((await spact(['rooms', '--json', ...dd])).stdout);
    expect(rooms[0]).toMatchObject({ name: 'Room 3', clips: 2 });

    const an = await spact(['anonymize', '--clips', ids.join(','), '--model', model, '--size', '112', '--json', ...dd]);
    expect(an.code, an.stderr).toBe(0);
    expect(JSON.parse(an.stdout)).toHaveLength(2);

    const clips = JSON.parse((await spact(['clips', '--room', 'Room 3', '--json', ...dd])).stdout);
    expect(clips.every((c: { outputs: unknown[] }) => c.outputs.length === 1)).toBe(true);

    const to = path.join(tmpDir('spact-cli-export-'), 'out');
    const ex = await spact(['export', '--room', 'Room 3', '--to', to, '--json', ...dd]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(JSON.parse(ex.stdout).items).toBe(2);
    expect(fs.readdirSync(to).filter((f) => f.endsWith('.mp4'))).toHaveLength(2);

    // The folder is not empty now: a second export into it needs --force.
    const again = await spact(['export', '--room', 'Room 3', '--to', to, ...dd]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(
      `spact export: error: the export folder ${to} is not empty; add --force to export into it anyway (files of the same name are replaced)`,
    );
    const forced = await spact(['export', '--room', 'Room 3', '--to', to, '--force', '--json', ...dd]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readdirSync(to).filter((f) => f.endsWith('.mp4'))).toHaveLength(2);
    // A relative --to is the user's current folder, never the app's.
    const here = tmpDir('spact-cli-cwd-');
    const rel = await spact(['export', '--room', 'Room 3', '--to', 'rel-out', '--json', ...dd], {}, 600_000, here);
    expect(rel.code, rel.stderr).toBe(0);
    expect(JSON.parse(rel.stdout).destination).toBe(path.join(here, 'rel-out'));
  });

  it('anonymizes files directly with --json per input', async () => {
    const videos = tmpDir('spact-cli-videos-');
    const a = makeVideo(path.join(videos, 'a.mp4'), { seconds: 1 });
    const out = tmpDir('spact-cli-out-');
    const r = await spact(['anonymize', a, '-o', out, '--model', model, '--size', '112', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [item] = JSON.parse(r.stdout);
    expect(item).toMatchObject({ input: a, frames: 10 });
    expect(item.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(item.fps).toBeGreaterThan(0);
    expect(fs.existsSync(item.output)).toBe(true);
  });

  it('bad inputs: one line, non-zero exit', async () => {
    const r = await spact(['anonymize', '/nonexistent.mp4', '-o', tmpDir(), '--model', model]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/nonexistent\.mp4: no such file/);
    const m = await spact(['anonymize', '/nonexistent.mp4', '-o', tmpDir(), '--model', path.join(tmpDir(), 'none')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/does not exist/);
  });
});

describe('job runner', () => {
  it('runs, reports progress, retries a transient failure, and cancels', async () => {
    const db = openDatabase(path.join(tmpDir('spact-jobs-'), 'library.sqlite'));
    let attempts = 0;
    let slowAborted = false;
    let slowStarted!: () => void;
    const slowRunning = new Promise<void>((r) => (slowStarted = r));
    const updates: string[] = [];
    const runner = new SqliteJobRunner(
      db,
      {
        flaky: async (_p, ctx) => {
          attempts++;
          ctx.progress(0.5, 'half');
          if (attempts === 1) throw new Error('transient');
          return { ok: true };
        },
        slow: (_p, ctx) =>
          new Promise((resolve, reject) => {
            const t = setTimeout(resolve, 10_000);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(t);
              slowAborted = true;
              reject(new Error('aborted'));
            });
            slowStarted();
          }),
      },
      { onUpdate: (j) => updates.push(`${j.id}:${j.status}`) },
    );
    runner.start();
    const j = runner.enqueue('flaky', { n: 1 });
    const done = await runner.wait(j.id);
    expect(done).toMatchObject({ status: 'done', attempts: 2, result: { ok: true } });
    expect(updates).toContain(`${j.id}:running`);

    // Cancel a job proven running (its handler has started): the handler is aborted, not skipped.
    const s = runner.enqueue('slow', {});
    await slowRunning;
    expect(runner.cancel(s.id).status).toBe('running');
    expect(slowAborted).toBe(true);
    expect(await runner.wait(s.id)).toMatchObject({ status: 'cancelled', attempts: 1, error: null });
    expect(updates).toContain(`${s.id}:running`);
    expect(updates.at(-1)).toBe(`${s.id}:cancelled`);
    expect(() => runner.enqueue('nope', {})).toThrow(/unknown job kind/);
    await runner.stop();
    db.close();
  });

  it('survives a restart: running jobs are requeued (or failed after their last attempt)', async () => {
    const file = path.join(tmpDir('spact-jobs-'), 'library.sqlite');
    const db = openDatabase(file);
    db.prepare(
      `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, created_at) VALUES ('ok', '{}', 'running', 1, 2, 't')`,
    ).run();
    db.prepare(
      `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, created_at) VALUES ('ok', '{}', 'running', 2, 2, 't')`,
    ).run();
    db.close();
    const db2 = openDatabase(file);
    const runner = new SqliteJobRunner(db2, { ok: async () => 'fine' });
    runner.start();
    expect((await runner.wait(1)).status).toBe('done');
    expect(runner.get(2)).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
    await runner.stop();
    db2.close();
  });

  it('the anonymize job records an output for a library clip', async () => {
    const core = openAppCore({ dataDir: tmpDir('spact-data-'), startJobs: true, threads: 2 });
    const clip = await core.library.importClip(makeVideo(path.join(tmpDir(), 'j.mp4'), { seconds: 1 }));
    const m = core.resolveModel(model);
    const job = core.jobs.enqueue('anonymize', { clipId: clip.id, modelId: m.id, settings: { size: 112 } });
    const done = await core.jobs.wait(job.id);
    expect(done.status, done.error ?? '').toBe('done');
    expect(core.anonymize.outputs({ clipId: clip.id })).toHaveLength(1);
    await core.close();
  });
});
