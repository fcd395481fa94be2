// Jobs on workers through BullMQ on a real Redis: the app core in this process, two `spact worker`
// child processes; one worker is killed (SIGKILL) as it starts a job, which another worker runs.
// Every job ends done, with outputs identical (sha256) to the same clips anonymized in one process,
// and no worker leaves a file behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openAppCore, type AppCore } from '../../electron/core/app-core.js';
import { projectRoot, spactBin } from '../helpers/cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

const CLIPS = 6;
const SETTINGS = { size: 112 };

let redis: RedisServer;
let model = '';
const children: ChildProcess[] = [];

beforeAll(async () => {
  [redis, model] = await Promise.all([startRedis(), tinyModel()]);
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop();
});

interface Worker {
  child: ChildProcess;
  log: string;
  started: Promise<void>;
  exited: Promise<number | null>;
}

function startWorker(app: string, token: string, tmp: string): Worker {
  const child = spawn(
    process.execPath,
    [
      spactBin,
      'worker',
      '--redis',
      redis.url,
      '--app',
      app,
      '--device',
      'cpu',
      '--threads',
      '1',
      '--lock-ms',
      '6000',
      '--tmp-dir',
      tmp,
    ],
    { cwd: projectRoot, env: { ...process.env, SPACT_WORKER_TOKEN: token }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  const w: Worker = {
    child,
    log: '',
    started: new Promise((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        w.log += String(d);
        if (/job \d+: started/.test(w.log)) resolve();
      });
    }),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  return w;
}

async function importAll(core: AppCore, files: string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const f of files) ids.push((await core.library.importClip(f)).id);
  return ids;
}

describe('distributed queue: BullMQ on Redis, two workers', () => {
  it('distributes anonymize jobs, survives a killed worker, outputs as in one process', async () => {
    const videos = tmpDir('spact-dq-videos-');
    const files = Array.from({ length: CLIPS }, (_, i) =>
      makeVideo(path.join(videos, `clip-${i}.mp4`), { seconds: 2, fps: 10 + i }),
    );

    // The reference: the same clips anonymized in one process (embedded queue, one thread).
    const local = openAppCore({ dataDir: tmpDir('spact-dq-local-'), device: 'cpu', threads: 1, distributed: null });
    const localIds = await importAll(local, files);
    const localModel = local.resolveModel(model);
    const expected: string[] = [];
    for (const id of localIds) expected.push((await local.anonymize.anonymizeClip(id, localModel.id, SETTINGS)).sha256);
    await local.close();

    const core = openAppCore({
      dataDir: tmpDir('spact-dq-app-'),
      startJobs: true,
      distributed: { redis: redis.url, backoffMs: 200 },
    });
    try {
      expect(core.distributed).toBeTruthy();
      const dist = core.distributed!;
      const app = await dist.url();
      const tmpA = tmpDir('spact-dq-worker-a-');
      const tmpB = tmpDir('spact-dq-worker-b-');
      const a = startWorker(app, dist.channel.tokens.issue('a'), tmpA);
      const b = startWorker(app, dist.channel.tokens.issue('b'), tmpB);

      const ids = await importAll(core, files);
      const m = core.resolveModel(model);
      const jobs = ids.map((clipId) => core.jobs.enqueue('anonymize', { clipId, modelId: m.id, settings: SETTINGS }));

      // Worker a dies as it starts its first job; a restarted worker a (as a service manager would)
      // removes what the dead one left in its temporary folder.
      await a.started;
      a.child.kill('SIGKILL');
      await a.exited;
      const a2 = startWorker(app, dist.channel.tokens.issue('a'), tmpA);

      const ended = await Promise.all(jobs.map((j) => core.jobs.wait(j.id)));
      expect(ended.map((j) => [j.status, j.error])).toEqual(ended.map(() => ['done', null]));
      const results = ended.map((j) => j.result as { outputId: number; sha256: string; worker: string });
      expect(results.map((r) => r.sha256)).toEqual(expected);
      // Recorded as local outputs are: under its own name, with the verified hash.
      for (const r of results) {
        const out = core.anonymize.output(r.outputId);
        expect(out.sha256).toBe(r.sha256);
        expect(fs.existsSync(out.path)).toBe(true);
      }
      // The killed worker finished none of them.
      const idOf = (w: Worker) => `${os.hostname()}-${w.child.pid}`;
      expect(results.map((r) => r.worker)).not.toContain(idOf(a));

      // The admin view: the two live workers with their device (the dead one's heartbeat stopped;
      // it is shown until its heartbeat expires, then forgotten). A job may run twice (a worker
      // that lost its lock under load): BullMQ records one result.
      const seen = (await dist.workers()).filter((w) => w.id !== idOf(a));
      expect(seen.map((w) => w.id).sort()).toEqual([idOf(a2), idOf(b)].sort());
      expect(seen.every((w) => w.device === 'cpu' && w.threads === 1 && w.current.length === 0)).toBe(true);
      expect(seen.reduce((n, w) => n + w.done, 0)).toBeGreaterThanOrEqual(CLIPS);

      // Draining a worker: it finishes and exits; its folder is gone.
      for (const w of seen) await dist.drain(w.id);
      expect(await a2.exited).toBe(0);
      expect(await b.exited).toBe(0);
      expect(fs.readdirSync(tmpA)).toEqual([]);
      expect(fs.readdirSync(tmpB)).toEqual([]);
    } finally {
      await core.close();
    }
  }, 240_000);

  it('cancels a job running on a worker at once: nothing recorded, the worker stops it and takes the next', async () => {
    const videos = tmpDir('spact-dq-videos-');
    const long = makeVideo(path.join(videos, 'long.mp4'), { seconds: 90, fps: 10 });
    const short = makeVideo(path.join(videos, 'short.mp4'), { seconds: 1, fps: 10 });
    const core = openAppCore({ dataDir: tmpDir('spact-dq-app-'), startJobs: true, distributed: { redis: redis.url } });
    try {
      const dist = core.distributed!;
      const app = await dist.url();
      const tmp = tmpDir('spact-dq-worker-');
      const w = startWorker(app, dist.channel.tokens.issue('c'), tmp);
      const modelId = core.resolveModel(model).id;
      const clip = await core.library.importClip(long);
      const job = core.jobs.enqueue('anonymize', { clipId: clip.id, modelId, settings: SETTINGS });
      await w.started;
      core.jobs.cancel(job.id);
      const ended = await core.jobs.wait(job.id);
      expect(ended.status).toBe('cancelled');
      expect(core.anonymize.outputs({ clipId: clip.id })).toEqual([]);
      // The worker saw the cancel (its heartbeat) and is free for the next job.
      const next = await core.library.importClip(short);
      const done = await core.jobs.wait(
        core.jobs.enqueue('anonymize', { clipId: next.id, modelId, settings: SETTINGS }).id,
      );
      expect(done.status).toBe('done');
      // The worker stopped it: at its heartbeat (cancelled) or at its next request to the app, whose
      // grant was revoked when the app stopped waiting (not-found).
      expect(w.log, w.log).toMatch(new RegExp(`job ${job.id}: (cancelled|not-found)`));
      expect(w.log, w.log).not.toMatch(new RegExp(`job ${job.id}: done`));
      expect(core.anonymize.outputs({ clipId: clip.id })).toEqual([]);
      // No upload of the cancelled job is left in the app's outputs folder.
      const outputs = fs.readdirSync(core.anonymize.outputsDir);
      expect(outputs.filter((f) => f.includes('.upload') || f.includes('.tmp-'))).toEqual([]);
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await core.close();
    }
  }, 180_000);

  it('fails a job that killed two workers, and does not retry it', async () => {
    const video = makeVideo(path.join(tmpDir('spact-dq-videos-'), 'clip.mp4'), { seconds: 2 });
    const core = openAppCore({ dataDir: tmpDir('spact-dq-app-'), startJobs: true, distributed: { redis: redis.url } });
    try {
      const dist = core.distributed!;
      const app = await dist.url();
      const tmp = tmpDir('spact-dq-worker-');
      const clip = await core.library.importClip(video);
      const job = core.jobs.enqueue('anonymize', {
        clipId: clip.id,
        modelId: core.resolveModel(model).id,
        settings: SETTINGS,
      });
      // Two workers die in turn as they start the job; a third finds it stalled a second time.
      for (let i = 0; i < 2; i++) {
        const w = startWorker(app, dist.channel.tokens.issue(`k${i}`), tmp);
        await w.started;
        w.child.kill('SIGKILL');
        await w.exited;
      }
      const last = startWorker(app, dist.channel.tokens.issue('last'), tmp);
      const ended = await core.jobs.wait(job.id);
      expect(ended.status).toBe('failed');
      expect(ended.error).toMatch(/^unavailable: workers died twice while running this job/);
      expect(ended.attempts).toBe(1); // not requeued by the app either
      expect(last.log).not.toMatch(/job \d+: started/);
      last.child.kill('SIGTERM');
      expect(await last.exited).toBe(0);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await core.close();
    }
  }, 120_000);
});
