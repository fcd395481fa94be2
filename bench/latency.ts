// `npm run bench:latency [-- --seconds N] [--modes host,in-process] [--quick] [--out DIR]`: how long a
// trivial API call (app.info) takes to come back from browser mode's server while an anonymize, an
// export and a fine-tune run at once (goal p99 ≤ 50 ms), with the core in its own host process
// (the default) and in the server's own process (`spact serve --in-process`) for comparison.
// Each mode: a fresh data folder and a real `spact serve`; calls go through HTTP with the token,
// one at a time, every 25 ms; idle figures are taken first. --quick: a CI-sized run (the host mode,
// 4 s) written into --out (default: a fresh temp folder), never bench/.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { ffmpegPath } from '../electron/core/media/ffmpeg.js';
import { projectRoot } from '../electron/core/paths.js';
import { benchArg, benchDir, machineContext, mdTable, writeResults } from './results-file.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const seconds = Number(benchArg('--seconds') ?? (quick ? 4 : 60));
const modes = (benchArg('--modes') ?? (quick ? 'host' : 'host,in-process')).split(',') as Mode[];
const outDir = path.resolve(
  benchArg('--out') ?? (quick ? fs.mkdtempSync(path.join(os.tmpdir(), 'spact-lat-')) : benchDir),
);
const root = projectRoot();
const spactBin = path.join(root, 'bin', 'spact.js');
const footage = path.join(root, 'test', 'fixtures', 'footage', 'room-a-excerpt.mp4');
const INTERVAL_MS = 25;

type Mode = 'host' | 'in-process';

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : Number.NaN;
};

function makeClip(dir: string, seconds: number): string {
  const file = path.join(dir, `testsrc-640x480-${seconds}s.mp4`);
  if (fs.existsSync(file)) return file;
  const r = spawnSync(ffmpegPath(), [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=640x480:rate=25:duration=${seconds}`],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-y', file],
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make a test clip: ${r.stderr}`);
  return file;
}

class Server {
  private constructor(
    readonly child: ChildProcess,
    readonly origin: string,
    readonly cookie: string,
  ) {}

  static async start(dataDir: string, mode: Mode): Promise<Server> {
    const args = [spactBin, 'serve', '--no-open', '--json', '--data-dir', dataDir, '--role', 'admin'];
    if (mode === 'in-process') args.push('--in-process');
    // SPACT_SERVE_NODE_ARGS: Node flags for the server (e.g. --cpu-prof when hunting a stall).
    const nodeArgs = (process.env.SPACT_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    if (process.env.SPACT_BENCH_VERBOSE)
      child.on('exit', (c, sig) => process.stderr.write(`[serve] exit ${c} ${sig}\n`));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (process.env.SPACT_BENCH_VERBOSE) process.stderr.write(`[serve] ${d.toString()}`);
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        try {
          resolve((JSON.parse(out) as { url: string }).url); // printed once listening, maybe in chunks
        } catch {
          /* not complete yet */
        }
      });
      child.once('exit', (code) => reject(new Error(`spact serve exited with ${code}: ${err}`)));
    });
    const launch = await fetch(url, { redirect: 'manual' });
    const cookie = (launch.headers.get('set-cookie') ?? '').split(';')[0]!;
    if (!cookie) throw new Error('the launch link set no cookie');
    return new Server(child, new URL(url).origin, cookie);
  }

  async call<T>(method: string, payload: unknown = {}): Promise<T> {
    const res = await fetch(`${this.origin}/api/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: this.cookie },
      body: JSON.stringify(payload),
    });
    const body = (await res.json()) as { ok: boolean; value?: T; error?: { kind: string; message: string } };
    if (!body.ok) throw new Error(`${method}: [${body.error?.kind}] ${body.error?.message}`);
    return body.value as T;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

interface JobRow {
  id: number;
  kind: string;
  status: string;
}

async function waitFor(server: Server, jobId: number, timeoutMs = 300_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const job = (await server.call<JobRow[]>('jobs.list')).find((j) => j.id === jobId);
    if (job?.status === 'done') return;
    if (job && ['failed', 'cancelled'].includes(job.status)) throw new Error(`job ${jobId} ${job.status}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${jobId} did not finish`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function sampleRoundTrips(server: Server, ms: number, onTick?: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + ms;
  let nextTick = performance.now();
  let ticking: Promise<void> | null = null;
  while (performance.now() < end) {
    const t0 = performance.now();
    await server.call('app.info');
    out.push(performance.now() - t0);
    if (process.env.SPACT_BENCH_VERBOSE && out.at(-1)! > 500)
      process.stderr.write(`[latency] slow call ${t0.toFixed(0)} → ${performance.now().toFixed(0)}\n`);
    // The load's bookkeeping runs beside the samples, never in their way (one at a time).
    if (onTick && !ticking && performance.now() >= nextTick) {
      nextTick = performance.now() + 1000;
      ticking = onTick().finally(() => (ticking = null));
    }
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
  }
  await ticking;
  if (process.env.SPACT_BENCH_VERBOSE)
    process.stderr.write(`[latency] samples ${out.map((x) => x.toFixed(0)).join(' ')}\n`);
  return out;
}

interface ModeResult {
  mode: Mode;
  idle: { n: number; p50: number; p99: number };
  load: { n: number; p50: number; p95: number; p99: number; max: number };
  /** Share of the load samples during which all three kinds (anonymize, export, fine-tune) were active. */
  allThreeShare: number;
  exportsFinished: number;
}

async function runMode(mode: Mode, clips: { short: string; long: string }): Promise<ModeResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `spact-lat-${mode}-`));
  const server = await Server.start(dataDir, mode);
  try {
    await server.call('app.info'); // the first call loads the engine library (seconds, once)
    const idle = await sampleRoundTrips(server, quick ? 1000 : 5000);
    const room = await server.call<{ id: number }>('rooms.create', { name: 'Latency bench' });
    const imported = await server.call<{ imported: { id: number }[] }>('clips.import', {
      paths: [clips.short, footage, clips.long],
      roomId: room.id,
    });
    const [shortClip, , longClip] = imported.imported.map((c) => c.id);
    const first = await server.call<{ jobIds: number[] }>('clips.anonymize', { clipIds: [shortClip] });
    await waitFor(server, first.jobIds[0]!);

    // The load: a long anonymize, a fine-tune of the room, and exports one after another.
    await server.call('clips.anonymize', { clipIds: [longClip] });
    await server.call('runs.start', { roomId: room.id, steps: 5000 });
    let exportJob = 0;
    let exportsFinished = 0;
    const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-lat-export-'));
    const nextExport = async () => {
      const t0 = performance.now();
      if (process.env.SPACT_BENCH_VERBOSE) process.stderr.write(`[latency] export start at ${t0.toFixed(0)}\n`);
      const to = path.join(exportDir, `e${exportsFinished}-${Date.now()}`);
      exportJob = (await server.call<{ jobId: number }>('exports.start', { clipIds: [shortClip], to })).jobId;
    };
    await nextExport();
    let ticks = 0;
    let allThree = 0;
    const tick = async () => {
      const jobs = await server.call<JobRow[]>('jobs.list');
      const active = new Set(jobs.filter((j) => j.status === 'running').map((j) => j.kind));
      if (process.env.SPACT_BENCH_VERBOSE)
        process.stderr.write(
          `[latency] ${JSON.stringify(jobs.map((j) => [j.id, j.kind, j.status, (j as { error?: unknown }).error]))}\n`,
        );
      ticks++;
      // An export of the short clip takes under a second: it counts when one ran since the last check.
      const ex = jobs.find((j) => j.id === exportJob);
      const exportRan = ex !== undefined && ex.status !== 'queued';
      if (active.has('anonymize') && active.has('finetune') && exportRan) allThree++;
      if (ex && ['done', 'failed', 'cancelled'].includes(ex.status)) {
        if (ex.status === 'done') exportsFinished++;
        await nextExport();
      }
    };
    // Let the jobs get going (decoding, model loading) before measuring.
    await new Promise((r) => setTimeout(r, quick ? 1000 : 5000));
    const load = await sampleRoundTrips(server, seconds * 1000, tick);
    for (const j of await server.call<JobRow[]>('jobs.list'))
      if (j.status === 'running' || j.status === 'queued')
        await server.call('jobs.cancel', { id: j.id }).catch(() => undefined);
    fs.rmSync(exportDir, { recursive: true, force: true });
    return {
      mode,
      idle: { n: idle.length, p50: percentile(idle, 50), p99: percentile(idle, 99) },
      load: {
        n: load.length,
        p50: percentile(load, 50),
        p95: percentile(load, 95),
        p99: percentile(load, 99),
        max: Math.max(...load),
      },
      allThreeShare: ticks ? allThree / ticks : 0,
      exportsFinished,
    };
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const cacheDir = path.join(outDir, '.cache', 'latency');
fs.mkdirSync(cacheDir, { recursive: true });
const clips = { short: makeClip(cacheDir, 2), long: makeClip(cacheDir, quick ? 20 : 300) };
const results: ModeResult[] = [];
for (const mode of modes) {
  process.stderr.write(`[latency] ${mode}: ${seconds} s under load…\n`);
  results.push(await runMode(mode, clips));
}
const ms = (x: number) => x.toFixed(1);
const md = [
  '## UI latency under load (`npm run bench:latency`)',
  '',
  `Round trip of \`app.info\` over browser mode's HTTP (token, JSON), one call every ${INTERVAL_MS} ms, idle and`,
  `then for ${seconds} s while a 300 s 640×480 clip is anonymized, the room is fine-tuned and a clip is exported`,
  'again and again. "all three": the share of 1-s checks that found the anonymize and the fine-tune running and',
  'an export that had run since the previous check (one export of the 2 s clip takes under a second).',
  "host: the core in its own process (the app's default); in-process: `spact serve --in-process`. Goal: p99 ≤ 50 ms.",
  '',
  mdTable(
    [
      'core',
      'idle p50 ms',
      'idle p99 ms',
      'load p50 ms',
      'p95 ms',
      'p99 ms',
      'max ms',
      'calls',
      'all three',
      'exports done',
    ],
    results.map((r) => [
      r.mode,
      ms(r.idle.p50),
      ms(r.idle.p99),
      ms(r.load.p50),
      ms(r.load.p95),
      `**${ms(r.load.p99)}**`,
      ms(r.load.max),
      r.load.n,
      `${Math.round(r.allThreeShare * 100)} %`,
      r.exportsFinished,
    ]),
  ),
  '',
  `Machine: ${JSON.stringify(machineContext())}. Command: \`npm run bench:latency${quick ? ' -- --quick' : ''}\`.`,
].join('\n');
writeResults('latency', md, { machine: machineContext(), seconds, results }, outDir);
process.stdout.write(`${md}\n`);
