// bench:scale — jobs per minute of anonymize jobs with the embedded queue (in the app's process)
// and with BullMQ on Redis with 1 and 2 `spact worker` processes (threads 1 each, this machine),
// and the queue's own overhead per job: a no-op job's round trip through BullMQ (add → a worker
// takes it → completed event), and the extra wall time per job of one worker over the embedded
// queue (queue + the data channel: input, model, upload). Needs Debian's redis-server.
//   npm run bench:scale -- [--jobs N] [--seconds S] [--size PX] [--model RUN_DIR]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { Queue, QueueEvents, Worker } from 'bullmq';

import { openAppCore, type AppCore } from '../electron/core/app-core.js';
import { redisConnection } from '../electron/core/jobs/bullmq-queue.js';
import { ffmpegPath } from '../electron/core/media/ffmpeg.js';
import { defaultModelDir } from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeResults } from './results-file.js';

const JOBS = Number(benchArg('--jobs') ?? 8);
const SECONDS = Number(benchArg('--seconds') ?? 2);
const SIZE = Number(benchArg('--size') ?? 112);
const MODEL = benchArg('--model') ?? defaultModelDir();
const ROOT = path.resolve(benchDir, '..');
const SPACT = path.join(ROOT, 'bin', 'spact.js');
process.env.SPACT_PASSPHRASE ??= 'bench:scale passphrase';

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** redis-server on a free loopback port, nothing persisted (as test/helpers/redis.ts). */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    tmp('spact-bench-redis-'),
  ]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', () => reject(new Error(`redis-server: ${out}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, child };
}

function makeClips(dir: string): string[] {
  return Array.from({ length: JOBS }, (_, i) => {
    const file = path.join(dir, `clip-${i}.mp4`);
    const r = spawnSync(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc=size=320x240:rate=10:duration=${SECONDS}`,
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-y',
      file,
    ]);
    if (r.status !== 0) throw new Error(`ffmpeg: ${String(r.stderr)}`);
    return file;
  });
}

/** Imports the clips, runs one anonymize job per clip, returns the wall time (ms). */
async function runJobs(core: AppCore, clips: string[]): Promise<number> {
  const ids: number[] = [];
  for (const c of clips) ids.push((await core.library.importClip(c)).id);
  const model = core.resolveModel(MODEL);
  const t0 = performance.now();
  const jobs = ids.map((clipId) =>
    core.jobs.enqueue('anonymize', { clipId, modelId: model.id, settings: { size: SIZE } }),
  );
  const ended = await Promise.all(jobs.map((j) => core.jobs.wait(j.id)));
  const ms = performance.now() - t0;
  const bad = ended.filter((j) => j.status !== 'done');
  if (bad.length) throw new Error(`jobs did not end done: ${JSON.stringify(bad.map((j) => j.error))}`);
  return ms;
}

async function embedded(clips: string[]): Promise<number> {
  const core = openAppCore({
    dataDir: tmp('spact-bench-scale-'),
    startJobs: true,
    distributed: null,
    device: 'cpu',
    threads: 1,
  });
  try {
    return await runJobs(core, clips);
  } finally {
    await core.close();
  }
}

async function distributed(redis: string, clips: string[], workers: number): Promise<number> {
  const core = openAppCore({ dataDir: tmp('spact-bench-scale-'), startJobs: true, distributed: { redis } });
  const children: ChildProcess[] = [];
  try {
    const app = await core.distributed!.url();
    for (let i = 0; i < workers; i++) {
      const token = core.distributed!.channel.tokens.issue(`bench-${i}`);
      const child = spawn(
        process.execPath,
        [SPACT, 'worker', '--redis', redis, '--app', app, '--device', 'cpu', '--threads', '1'],
        {
          env: { ...process.env, SPACT_WORKER_TOKEN: token },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      children.push(child);
      await new Promise<void>((resolve) => {
        let log = '';
        child.stderr!.on('data', (d: Buffer) => {
          log += String(d);
          process.stderr.write(String(d)); // each job's time (input, anonymize) as the worker logs it
          if (log.includes(': ready')) resolve();
        });
      });
    }
    return await runJobs(core, clips);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))));
    await core.close();
  }
}

/** A no-op job's round trip through BullMQ (sequential): the queue's own cost per job, ms. */
async function noopRoundTrip(redis: string, n = 200): Promise<number> {
  const connection = redisConnection(redis);
  const name = 'spact-bench-noop';
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const worker = new Worker(name, () => Promise.resolve(null), { connection });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await (await queue.add('noop', { i })).waitUntilFinished(events);
  const ms = (performance.now() - t0) / n;
  await Promise.all([worker.close(), events.close(), queue.close()]);
  return ms;
}

async function main(): Promise<void> {
  const clips = makeClips(tmp('spact-bench-clips-'));
  const redis = await startRedis();
  try {
    const noop = await noopRoundTrip(redis.url);
    process.stderr.write(`no-op round trip: ${noop.toFixed(2)} ms\n`);
    const emb = await embedded(clips);
    process.stderr.write(`embedded: ${(emb / 1000).toFixed(1)} s\n`);
    const one = await distributed(redis.url, clips, 1);
    process.stderr.write(`1 worker: ${(one / 1000).toFixed(1)} s\n`);
    const two = await distributed(redis.url, clips, 2);
    process.stderr.write(`2 workers: ${(two / 1000).toFixed(1)} s\n`);
    const perMin = (ms: number) => ((JOBS * 60_000) / ms).toFixed(1);
    const ctx = machineContext();
    const md = [
      '## Distributed queue (`npm run bench:scale`)',
      '',
      `${Object.entries(ctx)
        .map(([k, v]) => `${k}: ${v}`)
        .join(' · ')}`,
      '',
      `Command: \`npm run bench:scale -- --jobs ${JOBS} --seconds ${SECONDS} --size ${SIZE}\` · ${JOBS} anonymize jobs, ` +
        `${SECONDS} s clips (320×240, 10 fps), working size ${SIZE}, model ${path.relative(ROOT, MODEL) || MODEL}, device cpu, threads 1 per job.`,
      '',
      mdTable(
        ['queue', 'wall time', 'jobs / min', 'vs embedded'],
        [
          ['embedded (in the app, one job at a time)', `${(emb / 1000).toFixed(1)} s`, perMin(emb), '1.00×'],
          ['BullMQ, 1 worker', `${(one / 1000).toFixed(1)} s`, perMin(one), `${(emb / one).toFixed(2)}×`],
          ['BullMQ, 2 workers', `${(two / 1000).toFixed(1)} s`, perMin(two), `${(emb / two).toFixed(2)}×`],
        ],
      ),
      '',
      `Queue overhead per job: ${noop.toFixed(2)} ms for a no-op job's round trip through BullMQ (add → taken → ` +
        `completed event, sequential, 200 jobs); ${((one - emb) / JOBS).toFixed(0)} ms of wall time per job for 1 worker ` +
        `over the embedded queue (queue, input over the data channel sealed on arrival, model fetched once, upload, ` +
        `sha256 check, engine loaded once per worker process).`,
    ].join('\n');
    writeResults('scale', md, {
      ...ctx,
      jobs: JOBS,
      seconds: SECONDS,
      size: SIZE,
      embeddedMs: emb,
      oneWorkerMs: one,
      twoWorkersMs: two,
      noopMs: noop,
    });
    process.stdout.write(`${md}\n`);
  } finally {
    redis.child.kill('SIGKILL');
  }
}

await main();
