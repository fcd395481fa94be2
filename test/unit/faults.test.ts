// The fault-injection suite at CI size (issue 13, item 8): the same runner as `npm run test:faults`
// (bench/faults.ts), one kill per phase (the app's job, at one of its write events: `npm run
// test:faults` sweeps many more, CLI runs included), into a folder of its own; every trial must
// leave a sound data folder. The checker itself must see what a crash can leave behind, and each bug the suite
// found has its own test of the state the kill left.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { checkAfterCrash, sha256Of } from '../../bench/faults-check.js';
import { AuditLog } from '../../electron/core/audit/audit-log.js';
import { openDatabase, type Db } from '../../electron/core/db/database.js';
import { SqliteJobRunner } from '../../electron/core/jobs/job-runner.js';
import { reconcileFiles } from '../../electron/core/jobs/reconcile.js';
import { LibraryService, sha256File } from '../../electron/core/library/library-service.js';
import { unlockFromEnvironment, Vault } from '../../electron/core/vault/vault.js';
import { projectRoot } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

/** A PID that no process has any more: a child killed with SIGKILL. */
async function deadPid(): Promise<number> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  return child.pid!;
}

const reconcile = (db: Db, dataDir: string, interrupted = new SqliteJobRunner(db, {}).recover()) =>
  reconcileFiles({ db, audit: new AuditLog(db), dataDir, interrupted });

describe('what kill -9 left, as the suite found it', () => {
  it('an import killed between its copy and its row: the copy is removed at start-up; a recorded one stays', async () => {
    const dataDir = tmpDir('spact-faults-import-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const library = new LibraryService(db, dataDir, Vault.open(dataDir, unlockFromEnvironment()));
    // A finished import keeps no temporary name.
    const clip = await library.importClip(makeVideo(path.join(tmpDir(), 'kept.mp4'), { seconds: 1 }));
    const clips = path.join(dataDir, 'clips');
    expect(fs.readdirSync(clips)).toEqual([path.basename(clip.path)]);
    // The state of a kill after the copy got its name (hard link), before its row.
    const dead = await deadPid();
    const unrecorded = path.join(clips, '0123456789ab-lost.mp4');
    fs.writeFileSync(`${unrecorded}.tmp-${dead}`, 'raw video');
    fs.linkSync(`${unrecorded}.tmp-${dead}`, unrecorded);
    // A recorded clip with a dead temporary name of its own (killed after the row) stays.
    fs.linkSync(clip.path, `${clip.path}.tmp-${dead}`);
    const report = await reconcile(db, dataDir);
    expect(report.removed).toContain(unrecorded);
    expect(fs.readdirSync(clips)).toEqual([path.basename(clip.path)]);
    expect(await sha256File(clip.path)).toBe(clip.sha256);
    db.close();
  });

  it('an anonymization killed after its row and before its rename: the output is put in place', async () => {
    const dataDir = tmpDir('spact-faults-output-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const outputs = path.join(dataDir, 'outputs');
    fs.mkdirSync(outputs, { recursive: true });
    const t = '2020-01-01T00:00:00.000Z';
    db.prepare(
      `INSERT INTO clips (name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at)
       VALUES ('c.mp4', 'c.mp4', '/nowhere/c.mp4', 'copy', 'aa', 1, 1, 32, 32, 10, 0, ?)`,
    ).run(t);
    db.prepare(`INSERT INTO models (name, checkpoint, sha256, created_at) VALUES ('m', '/nowhere.pt', 'mm', ?)`).run(t);
    const recorded = path.join(outputs, 'clip1-abc-112-k1.mp4');
    db.prepare(
      `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at)
       VALUES (1, 1, ?, ?, '{}', 10, 10, 1, ?)`,
    ).run(recorded, 'x', t);
    const dead = await deadPid();
    fs.writeFileSync(`${recorded}.tmp-${dead}`, 'anonymized');
    const unrecorded = path.join(outputs, 'clip1-abc-112-k2.mp4');
    fs.writeFileSync(`${unrecorded}.tmp-${dead}`, 'anonymized, no row');
    const report = await reconcile(db, dataDir);
    expect(report.outputsFinished).toEqual([recorded]);
    expect(fs.readdirSync(outputs)).toEqual([path.basename(recorded)]);
    expect(fs.readFileSync(recorded, 'utf8')).toBe('anonymized');
    db.close();
  });

  it('a requeued export loses the files it wrote, so that its next run finds its folder empty', async () => {
    const dataDir = tmpDir('spact-faults-export-');
    const dest = tmpDir('spact-faults-dest-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    fs.writeFileSync(path.join(dest, 'clip-0001-0123abcd.mp4'), 'copied before the kill');
    db.prepare(
      `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, created_at, started_at)
       VALUES ('export', ?, 'running', 1, 2, 't', 't')`,
    ).run(JSON.stringify({ to: dest, actor: 'operator', clipIds: [1] }));
    const runner = new SqliteJobRunner(db, { export: async () => null });
    const interrupted = runner.recover();
    expect(interrupted[0]?.status).toBe('queued');
    await reconcile(db, dataDir, interrupted);
    expect(fs.readdirSync(dest)).toEqual([]);
    db.close();
  });

  it('a fine-tune killed while writing a checkpoint: the partial one goes, the last one stays', async () => {
    const dataDir = tmpDir('spact-faults-run-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    const run = path.join(dataDir, 'runs', 'run-1');
    fs.mkdirSync(run, { recursive: true });
    const dead = await deadPid();
    fs.writeFileSync(path.join(run, 'checkpoint.pt'), 'last checkpoint');
    fs.writeFileSync(path.join(run, `checkpoint.pt.tmp-${dead}`), 'partial');
    await reconcile(db, dataDir);
    expect(fs.readdirSync(run)).toEqual(['checkpoint.pt']);
    db.close();
  });

  it('work done outside the runner (the CLI export) has a job row while it runs, ended after', async () => {
    const db = openDatabase(path.join(tmpDir('spact-faults-here-'), 'library.sqlite'));
    const runner = new SqliteJobRunner(db, {});
    const status = () => db.prepare(`SELECT status, max_attempts AS max FROM jobs ORDER BY id DESC`).get();
    expect(
      await runner.runHere('export', { to: '/x' }, async () => {
        expect(status()).toEqual({ status: 'running', max: 1 });
        return 7;
      }),
    ).toBe(7);
    expect(status()).toEqual({ status: 'done', max: 1 });
    await expect(
      runner.runHere('export', {}, async () => {
        throw new Error('disk gone');
      }),
    ).rejects.toThrow('disk gone');
    expect(status()).toEqual({ status: 'failed', max: 1 });
    // Left running by a killed process: the next start fails it (never requeued: one attempt).
    db.prepare(`UPDATE jobs SET status = 'running' WHERE id = 1`).run();
    expect(new SqliteJobRunner(db, {}).recover().map((j) => j.status)).toEqual(['failed']);
    db.close();
  });
});

describe('the crash checker', () => {
  it('finds orphans, files without rows, rows without files, unfinished jobs and changed sources', () => {
    const dataDir = tmpDir('spact-faults-check-');
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    db.close();
    const source = path.join(dataDir, '..', `${path.basename(dataDir)}-source.mp4`);
    fs.writeFileSync(source, 'raw video');
    const sources = [{ path: source, sha256: sha256Of(source) }];
    expect(checkAfterCrash({ dataDir, sources })).toEqual([]);

    for (const [f, body] of [
      ['clips/0123456789ab-a.mp4.tmp-999999', 'partial'],
      ['clips/0123456789ab-b.mp4', 'raw, no row'],
      ['outputs/clip1-abc-112-x.mp4', 'output, no row'],
    ] as const) {
      fs.mkdirSync(path.dirname(path.join(dataDir, f)), { recursive: true });
      fs.writeFileSync(path.join(dataDir, f), body);
    }
    const exportDir = tmpDir('spact-faults-export-');
    fs.writeFileSync(path.join(exportDir, 'manifest.json'), '{}');
    fs.writeFileSync(path.join(exportDir, 'clip-0001-0123abcd.mp4'), 'x');
    const w = new Database(path.join(dataDir, 'library.sqlite'));
    w.prepare(
      `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, interruptions, created_at) VALUES ('anonymize', '{}', 'queued', 1, 2, 3, 't')`,
    ).run();
    w.prepare(
      `INSERT INTO runs (kind, config, status, error, run_dir, created_at) VALUES ('finetune', '{}', 'failed', 'interrupted: resume it to continue', '/nowhere', 't')`,
    ).run();
    w.close();
    fs.writeFileSync(source, 'changed');

    const v = checkAfterCrash({ dataDir, exportDirs: [exportDir], sources }).join('\n');
    expect(v).toMatch(/orphan temporary file: .*\.tmp-999999/);
    expect(v).toMatch(/raw file without its clip row: .*0123456789ab-b\.mp4/);
    expect(v).toMatch(/finished-looking output without its row/);
    expect(v).toMatch(/finished-looking export without its row: .*manifest\.json/);
    expect(v).toMatch(/finished-looking export file without its row: .*clip-0001-0123abcd\.mp4/);
    expect(v).toMatch(/job 1 \(anonymize\) is queued after the restart/);
    expect(v).toMatch(/interrupted 3 times/);
    expect(v).toMatch(/run 1 says it can be resumed but has no checkpoint/);
    expect(v).toMatch(/source file changed/);
  });
});

describe('npm run test:faults (CI size)', () => {
  it('kill -9 during import, anonymize, export and fine-tune leaves nothing broken', async () => {
    const benchDir = tmpDir('spact-faults-bench-');
    let log = '';
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(projectRoot, 'dist/node/bench/faults.js'), '--trials', '1', '--out', path.join(benchDir, 'work')],
        { cwd: projectRoot, env: { ...process.env, SPACT_BENCH_DIR: benchDir } },
      );
      child.stderr.on('data', (d) => (log += d));
      child.on('close', (c) => resolve(c ?? -1));
    });
    const json = JSON.parse(fs.readFileSync(path.join(benchDir, 'results', 'faults.json'), 'utf8')) as {
      trials: { phase: string; violations: string[] }[];
    };
    expect(json.trials.map((t) => t.phase)).toEqual(['import', 'anonymize', 'export', 'finetune']);
    expect(json.trials.flatMap((t) => t.violations)).toEqual([]);
    expect(code, log).toBe(0);
    expect(fs.readFileSync(path.join(benchDir, 'RESULTS.md'), 'utf8')).toContain('## Fault injection (kill -9)');
  }, 170_000);
});
