// Jobs on workers through BullMQ on a real Redis: the app core in this process, two `spact worker`
// child processes; one is killed (SIGKILL) mid-training, the other as it starts an anonymize job.
// 20 anonymize jobs and a fine-tune end done, the outputs identical (sha256) to the same clips
// anonymized in one process, the fine-tune's steps and losses those of the same run in one
// process, and no worker leaves a file behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MetricPoint, RunView } from '../../electron/contract.js';
import { Queue } from 'bullmq';

import { openAppCore, type AppCore } from '../../electron/core/app-core.js';
import { redisConnection } from '../../electron/core/jobs/bullmq-queue.js';
import { createCoreServices, type CoreServices } from '../../electron/core/services.js';
import { projectRoot, spactBin } from '../helpers/cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

const CLIPS = 20;
// A synthroom fine-tune small enough for the unit suite: its every phase, a few steps.
const RUN = { recipe: 'synthroom', steps: 2, clips: 8 } as const;
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

function startWorker(app: string, token: string, tmp: string, extra: string[] = [], redisUrl = redis.url): Worker {
  const child = spawn(
    process.execPath,
    [
      spactBin,
      'worker',
      '--redis',
      redisUrl,
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
      ...extra,
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

async function importAll(core: AppCore, files: string[], roomId?: number): Promise<number[]> {
  const ids: number[] = [];
  for (const f of files) ids.push((await core.library.importClip(f, roomId !== undefined ? { roomId } : {})).id);
  return ids;
}

/** Jobs waiting in the default queue of a Redis. */
async function countWaiting(url: string): Promise<number> {
  const queue = new Queue('spact-jobs', { connection: redisConnection(url) });
  try {
    return await queue.getWaitingCount();
  } finally {
    await queue.close();
  }
}

async function call<T>(s: CoreServices, method: string, payload: unknown): Promise<T> {
  const r = await s.dispatcher.dispatch(method as never, payload as never, { transport: 'bridge' });
  if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
  return r.value as T;
}

/** Starts the fine-tune of a new room holding `files`; resolves to the run's row and job. */
async function startRun(s: CoreServices, files: string[]): Promise<{ run: RunView; jobId: number }> {
  const room = s.core.library.createRoom('Hall');
  await importAll(s.core, files, room.id);
  const base = s.core.resolveModel(model);
  const run = await call<RunView>(s, 'runs.start', { roomId: room.id, baseModelId: base.id, ...RUN });
  const job = s.core.jobs
    .list()
    .find((j) => j.kind === 'finetune' && (j.payload as { runId: number }).runId === run.id);
  return { run, jobId: job!.id };
}

/** A run's steps and losses (not their times). */
async function lossesOf(s: CoreServices, runId: number) {
  const points = await call<MetricPoint[]>(s, 'runs.metrics', { runId });
  return points.map(({ step, phase, loss_T, loss_B, l1 }) => ({ step, phase, loss_T, loss_B, l1 }));
}

describe('distributed queue: BullMQ on Redis, two workers', () => {
  it('distributes anonymize jobs, survives a killed worker, outputs as in one process', async () => {
    const videos = tmpDir('spact-dq-videos-');
    const files = Array.from({ length: CLIPS }, (_, i) =>
      // The room's four are long enough to fine-tune on; the others short (the suite's time).
      makeVideo(path.join(videos, `clip-${i}.mp4`), { seconds: i < 4 ? 2 : 1, fps: 10 + i }),
    );

    // The reference: the same clips anonymized in one process (embedded queue, one thread).
    const local = openAppCore({ dataDir: tmpDir('spact-dq-local-'), device: 'cpu', threads: 1, distributed: null });
    const localIds = await importAll(local, files);
    const localModel = local.resolveModel(model);
    const expected: string[] = [];
    for (const id of localIds) expected.push((await local.anonymize.anonymizeClip(id, localModel.id, SETTINGS)).sha256);
    await local.close();
    // The fine-tune's reference: the same run in one process, one thread as the workers have.
    const roomFiles = files.slice(0, 4); // 4 clips of 16 frames at least: the fewest a run takes
    const single = createCoreServices({ dataDir: tmpDir('spact-dq-local-'), role: 'admin', distributed: null });
    let expectedLosses: Awaited<ReturnType<typeof lossesOf>>;
    try {
      await call(single, 'settings.set', { device: 'cpu', threads: 1 });
      const { run, jobId } = await startRun(single, roomFiles);
      const localEnd = await single.core.jobs.wait(jobId);
      expect([localEnd.status, localEnd.error]).toEqual(['done', null]);
      expectedLosses = await lossesOf(single, run.id);
    } finally {
      await single.close();
    }
    expect(expectedLosses.length).toBeGreaterThan(RUN.steps);

    const services = createCoreServices({
      dataDir: tmpDir('spact-dq-app-'),
      role: 'admin',
      distributed: { redis: redis.url, backoffMs: 200 },
    });
    const core = services.core;
    try {
      expect(core.distributed).toBeTruthy();
      const dist = core.distributed!;
      const app = await dist.url();
      const tmpA = tmpDir('spact-dq-worker-a-');
      const tmpB = tmpDir('spact-dq-worker-b-');
      const messages: string[] = [];
      services.events.subscribe((event, payload) => {
        if (event === 'run.progress') messages.push((payload as { message?: string }).message ?? '');
      });

      // The fine-tune goes to worker b; b dies mid-training (its steps already reported), and a
      // restarted b (as a service manager would) removes what the dead one left in its folder.
      const b = startWorker(app, dist.channel.tokens.issue('b'), tmpB);
      const fineTune = await startRun(services, roomFiles);
      const stepsRecorded = () =>
        (
          core.db.prepare(`SELECT COUNT(*) AS n FROM run_metrics WHERE run_id = ?`).get(fineTune.run.id) as {
            n: number;
          }
        ).n;
      while (stepsRecorded() === 0) await new Promise((r) => setTimeout(r, 50));
      expect(b.log).toMatch(new RegExp(`job ${fineTune.jobId}: started`));
      b.child.kill('SIGKILL');
      await b.exited;
      const b2 = startWorker(app, dist.channel.tokens.issue('b'), tmpB);

      // Worker a dies as it starts its first anonymize job; restarted likewise.
      const a = startWorker(app, dist.channel.tokens.issue('a'), tmpA);
      const ids = await importAll(core, files);
      const m = core.resolveModel(model);
      const jobs = ids.map((clipId) => core.jobs.enqueue('anonymize', { clipId, modelId: m.id, settings: SETTINGS }));
      await a.started;
      a.child.kill('SIGKILL');
      await a.exited;
      const a2 = startWorker(app, dist.channel.tokens.issue('a'), tmpA);

      const ended = await Promise.all(jobs.map((j) => core.jobs.wait(j.id)));
      expect(ended.map((j) => [j.status, j.error])).toEqual(ended.map(() => ['done', null]));
      // The fine-tune trained on a worker: the same steps and losses as in one process, recorded as
      // a local run's are; its model (the uploaded checkpoint, verified) registered and usable.
      const runJob = await core.jobs.wait(fineTune.jobId);
      expect([runJob.status, runJob.error]).toEqual(['done', null]);
      // Its curves are those of the attempt that finished (the killed one's were dropped).
      expect(await lossesOf(services, fineTune.run.id)).toEqual(expectedLosses);
      expect(messages).toContain('a worker stopped; training starts again on another worker');
      expect(a2.log + b2.log).toMatch(new RegExp(`job ${fineTune.jobId}: done`));
      const run = await call<RunView>(services, 'runs.get', { runId: fineTune.run.id });
      expect(run).toMatchObject({ status: 'done', progress: 1 });
      const trained = core.library.model(run.modelId!);
      expect(path.dirname(trained.checkpoint)).toBe(
        path.resolve(core.dataDir, 'runs', path.basename(path.dirname(trained.checkpoint))),
      );
      const onTrained = await core.anonymize.anonymizeClip(ids[0]!, trained.id, SETTINGS);
      expect(onTrained.sha256).toMatch(/^[0-9a-f]{64}$/);
      const results = ended.map((j) => j.result as { outputId: number; sha256: string; worker: string });
      expect(results.map((r) => r.sha256)).toEqual(expected);
      // Recorded as local outputs are: under its own name, with the verified hash.
      for (const r of results) {
        const out = core.anonymize.output(r.outputId);
        expect(out.sha256).toBe(r.sha256);
        expect(fs.existsSync(out.path)).toBe(true);
      }
      // The killed workers finished none of them.
      const idOf = (w: Worker) => `${os.hostname()}-${w.child.pid}`;
      expect(results.map((r) => r.worker)).not.toContain(idOf(a));
      expect(results.map((r) => r.worker)).not.toContain(idOf(b));

      // The admin view: the two live workers with their device (the dead one's heartbeat stopped;
      // it is shown until its heartbeat expires, then forgotten). A job may run twice (a worker
      // that lost its lock under load): BullMQ records one result.
      const seen = (await dist.workers()).filter((w) => w.id !== idOf(a) && w.id !== idOf(b));
      expect(seen.map((w) => w.id).sort()).toEqual([idOf(a2), idOf(b2)].sort());
      expect(seen.every((w) => w.device === 'cpu' && w.threads === 1 && w.current.length === 0)).toBe(true);
      expect(seen.reduce((n, w) => n + w.done, 0)).toBeGreaterThanOrEqual(CLIPS + 1);

      // Draining a worker: it finishes and exits; its folder is gone.
      for (const w of seen) await dist.drain(w.id);
      expect(await a2.exited).toBe(0);
      expect(await b2.exited).toBe(0);
      expect(fs.readdirSync(tmpA)).toEqual([]);
      expect(fs.readdirSync(tmpB)).toEqual([]);
    } finally {
      await services.close();
    }
  }, 300_000);

  it('cancels a job running on a worker at once: nothing recorded, the worker stops it and takes the next', async () => {
    const videos = tmpDir('spact-dq-videos-');
    const long = makeVideo(path.join(videos, 'long.mp4'), { seconds: 90, fps: 10 });
    const short = makeVideo(path.join(videos, 'short.mp4'), { seconds: 1, fps: 10 });
    // This app has a queue of its own on the shared Redis: a worker of the default queue (another
    // app's) never sees its jobs.
    const core = openAppCore({
      dataDir: tmpDir('spact-dq-app-'),
      startJobs: true,
      distributed: { redis: redis.url, queue: 'clinic-b' },
    });
    try {
      const dist = core.distributed!;
      const app = await dist.url();
      const tmp = tmpDir('spact-dq-worker-');
      const other = startWorker(app, dist.channel.tokens.issue('other-app'), tmpDir('spact-dq-worker-'));
      const w = startWorker(app, dist.channel.tokens.issue('c'), tmp, ['--queue', 'clinic-b']);
      while (!/: ready/.test(other.log)) await new Promise((r) => setTimeout(r, 100));
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
      // Nothing waits on the ended jobs' events any more (a cancelled job's listeners are gone too).
      const events = (dist.dispatcher as unknown as { events: NodeJS.EventEmitter }).events;
      expect(events.eventNames().filter((n) => /^(completed|failed):/.test(String(n)))).toEqual([]);
      // No upload of the cancelled job is left in the app's outputs folder.
      const outputs = fs.readdirSync(core.anonymize.outputsDir);
      expect(outputs.filter((f) => f.includes('.upload') || f.includes('.tmp-'))).toEqual([]);
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(fs.readdirSync(tmp)).toEqual([]);
      expect(other.log).not.toMatch(/job \d+: started/);
      other.child.kill('SIGTERM');
      expect(await other.exited).toBe(0);
    } finally {
      await core.close();
    }
  }, 180_000);

  it('queues a job again that Redis lost (restarted empty), and a worker started after it does it', async () => {
    const video = makeVideo(path.join(tmpDir('spact-dq-videos-'), 'clip.mp4'), { seconds: 1 });
    const own = await startRedis();
    const core = openAppCore({
      dataDir: tmpDir('spact-dq-app-'),
      startJobs: true,
      distributed: { redis: own.url, watchMs: 300 },
    });
    try {
      const dist = core.distributed!;
      const app = await dist.url();
      const clip = await core.library.importClip(video);
      const job = core.jobs.enqueue('anonymize', {
        clipId: clip.id,
        modelId: core.resolveModel(model).id,
        settings: SETTINGS,
      });
      // Queued in Redis (no worker yet), then Redis restarts without its data.
      while ((await countWaiting(own.url)) === 0) await new Promise((r) => setTimeout(r, 100));
      await own.restart();
      expect(await countWaiting(own.url)).toBe(0);
      const tmp = tmpDir('spact-dq-worker-');
      const w = startWorker(app, dist.channel.tokens.issue('after'), tmp, [], own.url);
      const ended = await core.jobs.wait(job.id);
      expect([ended.status, ended.error]).toEqual(['done', null]);
      expect(core.anonymize.outputs({ clipId: clip.id })).toHaveLength(1);
      expect(ended.attempts).toBe(1); // queued again in Redis, not a new attempt of the app
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      await core.close();
      await own.stop();
    }
  }, 120_000);

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
