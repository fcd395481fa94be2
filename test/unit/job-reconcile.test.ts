// Jobs that always end (issue 13, item 2): start-up never runs or waits for a job; a job
// interrupted twice is failed and never requeued; interrupted fine-tunes become failed and
// resumable; exports without their row are finished or labelled incomplete; orphan temporary files
// of dead processes are removed (those of live ones kept); one anonymize job per clip and model.
// Crashes are simulated by writing the database states a killed process leaves, and by the PIDs
// of child processes killed with SIGKILL.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { pathToFileURL } from 'node:url';

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import type { JobView, RunView } from '../../electron/contract.js';
import { methods } from '../../electron/contract.js';
import { AuditLog } from '../../electron/core/audit/audit-log.js';
import { openDatabase, type Db } from '../../electron/core/db/database.js';
import { INTERRUPTED_TWICE, SqliteJobRunner, type JobRecord } from '../../electron/core/jobs/job-runner.js';
import { INCOMPLETE_MARKER, pidAlive, reconcileFiles } from '../../electron/core/jobs/reconcile.js';
import { openAppCore } from '../../electron/core/app-core.js';
import { createCoreServices } from '../../electron/core/services.js';
import { projectRoot, spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

let model = '';
beforeAll(async () => {
  model = await tinyModel();
}, 120_000);

type Services = ReturnType<typeof createCoreServices>;
const open: Services[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function call<T>(s: Services, method: string, req: unknown): Promise<T> {
  const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
  return r.value as T;
}

/** A PID that no process has any more: a child killed with SIGKILL. */
async function deadPid(): Promise<number> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid!;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(pid, 'SIGKILL');
  await exited;
  expect(pidAlive(pid)).toBe(false);
  return pid;
}

/** A job row as a killed process leaves it: running. */
function insertRunningJob(
  db: Db,
  kind: string,
  payload: unknown,
  o: { attempts?: number; maxAttempts?: number; interruptions?: number } = {},
): number {
  const info = db
    .prepare(
      `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, interruptions, created_at, started_at)
       VALUES (?, ?, 'running', ?, ?, ?, ?, ?)`,
    )
    .run(
      kind,
      JSON.stringify(payload),
      o.attempts ?? 1,
      o.maxAttempts ?? 2,
      o.interruptions ?? 0,
      '2020-01-01T00:00:00.000Z',
      '2020-01-01T00:00:00.000Z',
    );
  return Number(info.lastInsertRowid);
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Library rows for one clip, one model and one output whose file holds `bytes`. */
function insertOutput(db: Db, dataDir: string, bytes: Buffer): { outputId: number; sha: string } {
  const t = '2020-01-01T00:00:00.000Z';
  const clip = db
    .prepare(
      `INSERT INTO clips (name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at)
       VALUES ('c.mp4', 'c.mp4', ?, 'copy', 'aa', 1, 1, 32, 32, 10, 0, ?)`,
    )
    .run(path.join(dataDir, 'clips', `c-${crypto.randomUUID()}.mp4`), t);
  const model = db
    .prepare(`INSERT INTO models (name, checkpoint, sha256, created_at) VALUES ('m', '/nowhere/checkpoint.pt', ?, ?)`)
    .run(crypto.randomUUID(), t);
  const sha = sha256(bytes);
  const file = path.join(dataDir, 'outputs', `o-${crypto.randomUUID()}.mp4`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  const settings = { size: 112, batch: 8, keepAudio: false, width: 112, height: 112 };
  const out = db
    .prepare(
      `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at)
       VALUES (?, ?, ?, ?, ?, 10, 10, 1, ?)`,
    )
    .run(clip.lastInsertRowid, model.lastInsertRowid, file, sha, JSON.stringify(settings), t);
  return { outputId: Number(out.lastInsertRowid), sha };
}

describe('the job runner at start-up', () => {
  it('fails a job interrupted twice, with its reason, and never requeues it', async () => {
    const file = path.join(tmpDir('spact-reconcile-'), 'library.sqlite');
    let db = openDatabase(file);
    // Attempts are plentiful: it is the second interruption that stops it.
    const id = insertRunningJob(db, 'work', {}, { attempts: 1, maxAttempts: 5 });
    db.close();

    // First restart: requeued, one interruption counted. The app dies again while it runs.
    db = openDatabase(file);
    let runner = new SqliteJobRunner(db, { work: async () => 'fine' });
    expect(runner.recover().map((j) => [j.id, j.status, j.interruptions])).toEqual([[id, 'queued', 1]]);
    db.prepare(`UPDATE jobs SET status = 'running', attempts = attempts + 1 WHERE id = ?`).run(id);
    db.close();

    // Second restart: failed for good.
    db = openDatabase(file);
    let calls = 0;
    runner = new SqliteJobRunner(db, {
      work: async () => {
        calls++;
        return 'ran';
      },
    });
    runner.start();
    expect(runner.get(id)).toMatchObject({ status: 'failed', error: INTERRUPTED_TWICE, interruptions: 2 });
    // Jobs run in id order: once a later job is done, the failed one would have run before it.
    const later = runner.enqueue('work', {});
    expect((await runner.wait(later.id)).status).toBe('done');
    expect(calls).toBe(1);
    await runner.stop();
    db.close();

    // Later starts leave it failed.
    db = openDatabase(file);
    runner = new SqliteJobRunner(db, { work: async () => 'ran' });
    expect(runner.recover()).toEqual([]);
    runner.start();
    expect((await runner.wait(runner.enqueue('work', {}).id)).status).toBe('done');
    expect(runner.get(id).status).toBe('failed');
    await runner.stop();
    db.close();
  });

  it('start returns before a requeued job runs (a job that blocks the thread included)', async () => {
    const file = path.join(tmpDir('spact-reconcile-'), 'library.sqlite');
    let db = openDatabase(file);
    const id = insertRunningJob(db, 'block', {}, { attempts: 1, maxAttempts: 3 });
    db.close();
    db = openDatabase(file);
    const events: string[] = [];
    const runner = new SqliteJobRunner(db, {
      block: async () => {
        events.push('job');
        const until = Date.now() + 200;
        while (Date.now() < until); // a synchronous stretch, as a blocking call would be
        return 'done';
      },
    });
    runner.start({ delayMs: 50 });
    events.push('started');
    expect(runner.get(id).status).toBe('queued');
    // The host answers meanwhile: a timer before the delay fires first.
    await new Promise((r) => setTimeout(r, 10));
    events.push('answered');
    expect((await runner.wait(id)).status).toBe('done');
    expect(events).toEqual(['started', 'answered', 'job']);
    await runner.stop();
    db.close();
  });

  it('the app answers before a requeued job starts', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const id = insertRunningJob(db, 'anonymize', { clipId: 99, modelId: 99 }, { attempts: 1, maxAttempts: 2 });
    db.close();
    const s = createCoreServices({ dataDir, role: 'operator' });
    open.push(s);
    expect(s.core.jobs.get(id)).toMatchObject({ status: 'queued', interruptions: 1 });
    const info = await s.dispatcher.dispatch('app.info', {}, { transport: 'bridge' });
    expect(info.ok).toBe(true);
    expect(s.core.jobs.get(id).status).toBe('queued');
    // It runs afterwards (and fails on its own: the clip does not exist).
    expect((await s.core.jobs.wait(id)).status).toBe('failed');
  });
});

describe('reconciliation at start-up', () => {
  it('an interrupted fine-tune becomes failed and resumable, and its resume can be cancelled', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const runDir = path.join(dataDir, 'runs', 'run-1');
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'checkpoint.pt'), 'not really a checkpoint');
    db.prepare(
      `INSERT INTO runs (id, kind, config, status, progress, run_dir, created_at, started_at)
       VALUES (1, 'finetune', ?, 'running', 0.4, ?, 't', 't')`,
    ).run(JSON.stringify({ roomId: 1, baseModelId: 1, recipe: 'room', steps: 10 }), runDir);
    const jobId = insertRunningJob(db, 'finetune', { runId: 1, resume: false }, { attempts: 1, maxAttempts: 1 });
    db.close();

    const s = createCoreServices({ dataDir, role: 'operator' });
    open.push(s);
    expect(s.core.jobs.get(jobId).status).toBe('failed');
    const run = await call<RunView>(s, 'runs.get', { runId: 1 });
    expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted.*resume/) });
    expect(methods['runs.get'].response.parse(run)).toEqual(run);

    // Resumable: the screen's Resume queues it again; and a queued resume can be cleared.
    await s.core.jobs.stop(); // keep the resumed job queued (its checkpoint is a stand-in)
    expect((await call<RunView>(s, 'runs.resume', { runId: 1 })).status).toBe('queued');
    expect((await call<RunView>(s, 'runs.cancel', { runId: 1 })).status).toBe('cancelled');
  });

  it('a run without a checkpoint is failed too, and says to start a new one', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    db.prepare(
      `INSERT INTO runs (id, kind, config, status, run_dir, created_at) VALUES (1, 'finetune', '{"roomId":1,"baseModelId":1,"steps":5}', 'queued', ?, 't')`,
    ).run(path.join(dataDir, 'runs', 'run-1'));
    db.close();
    const s = createCoreServices({ dataDir, role: 'operator' });
    open.push(s);
    expect(await call<RunView>(s, 'runs.get', { runId: 1 })).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no checkpoint yet/),
    });
  });

  it('removes orphan temporary files of dead processes and keeps those of live ones', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const dead = await deadPid();
    const clips = path.join(dataDir, 'clips');
    const outputs = path.join(dataDir, 'outputs');
    fs.mkdirSync(clips, { recursive: true });
    fs.mkdirSync(outputs, { recursive: true });
    const orphans = [
      path.join(clips, `0123456789ab-morning.mp4.tmp-${dead}`), // a killed import's partial raw copy
      path.join(outputs, `.clip-1-abc.mp4.tmp-${dead}.mp4`), // a killed anonymization's hidden output
    ];
    const live = [
      path.join(clips, `ba9876543210-evening.mp4.tmp-${process.pid}`), // an import still running
      path.join(outputs, `.clip-2-def.mp4.tmp-${process.pid}.mp4`),
    ];
    const other = [path.join(clips, '0123456789ab-morning.mp4'), path.join(dataDir, 'runs', 'run-1', 'reservoir.tmp')];
    for (const f of [...orphans, ...live, ...other]) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, 'x');
    }
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const report = await reconcileFiles({ db, audit: new AuditLog(db), dataDir, interrupted: [] });
    db.close();
    expect(report.removed.sort()).toEqual([...orphans].sort());
    for (const f of orphans) expect(fs.existsSync(f)).toBe(false);
    for (const f of [...live, ...other]) expect(fs.existsSync(f)).toBe(true);

    // The app does the same at start-up, in the background.
    const again = path.join(clips, `0123456789ab-noon.mp4.tmp-${dead}`);
    fs.writeFileSync(again, 'x');
    const s = createCoreServices({ dataDir, role: 'operator' });
    open.push(s);
    await vi.waitFor(() => expect(fs.existsSync(again)).toBe(false), { timeout: 5000 });
    for (const f of live) expect(fs.existsSync(f)).toBe(true);
  });

  it('an export with a complete manifest but no row is finished: row, items, audit entry, job done', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const dest = path.join(tmpDir('spact-reconcile-dest-'), 'export');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const bytes = Buffer.from('anonymized video bytes');
    const { outputId, sha } = insertOutput(db, dataDir, bytes);
    const name = `clip-0001-${sha.slice(0, 8)}.mp4`;
    fs.mkdirSync(dest, { recursive: true });
    fs.writeFileSync(path.join(dest, name), bytes);
    const manifest = {
      format: 'spact-export',
      version: 1,
      createdAt: '2020-01-01T00:00:01.000Z',
      items: [{ file: name, sha256: sha, durationS: 1, fps: 10, frames: 10, model: { id: 1, sha256: 'm' } }],
    };
    fs.writeFileSync(path.join(dest, 'manifest.json'), JSON.stringify(manifest));
    const dead = await deadPid();
    fs.writeFileSync(path.join(dest, `.clip-0002-00000000.mp4.tmp-${dead}`), 'partial');
    const jobId = insertRunningJob(db, 'export', { to: dest, actor: 'operator', clipIds: [1] }, { maxAttempts: 1 });
    const runner = new SqliteJobRunner(db, { export: async () => null });
    const interrupted = runner.recover();
    expect(interrupted[0]?.status).toBe('failed');
    const report = await reconcileFiles({ db, audit: new AuditLog(db), dataDir, interrupted });
    expect(report.exportsFinished).toHaveLength(1);
    const row = db.prepare(`SELECT * FROM exports`).get() as { id: number; destination: string; actor: string };
    expect(row).toMatchObject({ destination: dest, actor: 'operator' });
    expect(db.prepare(`SELECT output_id FROM export_items WHERE export_id = ?`).all(row.id)).toEqual([
      { output_id: outputId },
    ]);
    expect(new AuditLog(db).entries().some((e) => e.action === 'export' && e.object === `export:${row.id}`)).toBe(true);
    expect(runner.get(jobId)).toMatchObject({ status: 'done', result: { id: row.id, items: 1 } });
    expect(fs.readdirSync(dest).sort()).toEqual([name, 'manifest.json']);
    db.close();
  });

  it('an export without its manifest is failed and its folder labelled incomplete', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const dest = path.join(tmpDir('spact-reconcile-dest-'), 'export');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    fs.mkdirSync(dest, { recursive: true });
    // A finished-looking clip file, no manifest (killed between the files and the manifest).
    fs.writeFileSync(path.join(dest, 'clip-0001-0123abcd.mp4'), 'bytes');
    fs.writeFileSync(path.join(dest, 'notes.txt'), 'the user’s own file');
    const jobId = insertRunningJob(db, 'export', { to: dest, actor: 'operator', clipIds: [1] }, { maxAttempts: 1 });
    const runner = new SqliteJobRunner(db, { export: async () => null });
    const report = await reconcileFiles({ db, audit: new AuditLog(db), dataDir, interrupted: runner.recover() });
    expect(report.exportsIncomplete).toEqual([dest]);
    expect(fs.readdirSync(dest).sort()).toEqual([INCOMPLETE_MARKER, 'clip-0001-0123abcd.mp4.incomplete', 'notes.txt']);
    expect(fs.readFileSync(path.join(dest, INCOMPLETE_MARKER), 'utf8')).toMatch(/interrupted/);
    expect(runner.get(jobId)).toMatchObject({ status: 'failed', error: expect.stringMatching(/incomplete/) });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM exports`).get()).toEqual({ n: 0 });
    db.close();
  });
});

describe('one job per clip and model', () => {
  it('a second anonymize request for the same clip and model joins the job; the job view names its clip', async () => {
    const dataDir = tmpDir('spact-reconcile-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    insertOutput(db, dataDir, Buffer.from('o')); // clip 1 and model 1
    db.close();
    const s = createCoreServices({ dataDir, role: 'operator' });
    open.push(s);
    await s.core.jobs.stop(); // jobs stay queued: they are what a reload finds
    const first = await call<{ jobIds: number[] }>(s, 'clips.anonymize', { clipIds: [1, 1], modelId: 1 });
    expect(first.jobIds).toHaveLength(2);
    expect(first.jobIds[0]).toBe(first.jobIds[1]);
    const second = await call<{ jobIds: number[] }>(s, 'clips.anonymize', { clipIds: [1], modelId: 1 });
    expect(second.jobIds).toEqual([first.jobIds[0]]);
    expect(s.core.jobs.list().filter((j: JobRecord) => j.kind === 'anonymize')).toHaveLength(1);

    // After a reload the screen asks for the jobs: the queued one names its clip.
    const jobs = await call<JobView[]>(s, 'jobs.list', {});
    expect(methods['jobs.list'].response.parse(jobs)).toEqual(jobs);
    expect(jobs.find((j) => j.id === first.jobIds[0])).toMatchObject({ status: 'queued', clipId: 1 });

    // Once it has ended, a new request makes a new job.
    s.core.jobs.cancel(first.jobIds[0]!);
    const third = await call<{ jobIds: number[] }>(s, 'clips.anonymize', { clipIds: [1], modelId: 1 });
    expect(third.jobIds[0]).not.toBe(first.jobIds[0]);
  });
});

/** A process of the built app that queues an anonymize job and runs it until it is killed. */
function appProcess(dataDir: string, job: { clipId: number; modelId: number } | null) {
  const core = pathToFileURL(path.join(projectRoot, 'dist/node/electron/core/app-core.js')).href;
  const script = `
    const { openAppCore } = await import(${JSON.stringify(core)});
    const core = openAppCore({ dataDir: ${JSON.stringify(dataDir)}, startJobs: true, threads: 1 });
    const job = ${JSON.stringify(job)};
    if (job) core.jobs.enqueue('anonymize', { ...job, settings: { size: 112 } });
    setInterval(() => {}, 1000);
  `;
  return spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
}

describe('kill -9 during an anonymize job', () => {
  it('twice: the job is failed and not requeued, its partial outputs are removed, the app starts', async () => {
    const dataDir = tmpDir('spact-reconcile-kill-');
    const setup = openAppCore({ dataDir });
    const clip = await setup.library.importClip(
      makeVideo(path.join(tmpDir(), 'long.mp4'), { seconds: 60, width: 320, height: 240 }),
    );
    const modelId = setup.resolveModel(model).id;
    await setup.close();
    const outputs = path.join(dataDir, 'outputs');
    const partials = () => (fs.existsSync(outputs) ? fs.readdirSync(outputs).filter((f) => /\.tmp-\d+/.test(f)) : []);

    const killWhileRunning = async (job: { clipId: number; modelId: number } | null) => {
      const child = appProcess(dataDir, job);
      const exited = new Promise((r) => child.once('exit', r));
      // Killed once its hidden partial output is being written.
      await vi.waitFor(() => expect(partials().some((f) => f.includes(`.tmp-${child.pid}`))).toBe(true), {
        timeout: 60_000,
        interval: 100,
      });
      child.kill('SIGKILL');
      await exited;
    };
    await killWhileRunning({ clipId: clip.id, modelId });
    let db = openDatabase(path.join(dataDir, 'library.sqlite'));
    expect(db.prepare(`SELECT status, interruptions FROM jobs`).all()).toEqual([
      { status: 'running', interruptions: 0 },
    ]);
    db.close();
    // The second start requeues it (one interruption) and runs it again: killed again.
    await killWhileRunning(null);
    db = openDatabase(path.join(dataDir, 'library.sqlite'));
    expect(db.prepare(`SELECT status, interruptions FROM jobs`).all()).toEqual([
      { status: 'running', interruptions: 1 },
    ]);
    db.close();
    expect(partials().length).toBeGreaterThan(0);

    // Third start: failed for good, nothing recorded, partial outputs removed.
    const s = createCoreServices({ dataDir, role: 'operator' });
    open.push(s);
    const [job] = s.core.jobs.list();
    expect(job).toMatchObject({ status: 'failed', error: INTERRUPTED_TWICE, interruptions: 2 });
    await vi.waitFor(() => expect(partials()).toEqual([]), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(s.core.jobs.get(job!.id).status).toBe('failed');
    expect(s.core.anonymize.outputs({ clipId: clip.id })).toEqual([]);
  }, 240_000);
});

describe('spact anonymize --clips', () => {
  it('a clip named twice is anonymized once', async () => {
    const dataDir = tmpDir('spact-reconcile-cli-');
    const video = makeVideo(path.join(tmpDir(), 'once.mp4'), { seconds: 1 });
    const imp = await spact(['import', video, '--json', '--data-dir', dataDir]);
    expect(imp.code, imp.stderr).toBe(0);
    const id = JSON.parse(imp.stdout).imported[0].id as number;
    const r = await spact([
      'anonymize',
      '--clips',
      `${id},${id}`,
      '--model',
      model,
      '--size',
      '112',
      '--json',
      '--data-dir',
      dataDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    const core = openAppCore({ dataDir });
    expect(core.anonymize.outputs({ clipId: id })).toHaveLength(1);
    await core.close();
  }, 120_000);
});
