// `npm run bench:engine [-- --quick]`: speed and memory of the SPAct engine on this machine.
//  1. ms per minimax iteration (edge preset, 4 clips × 8 frames × 64²) through the JS API, beside
//     the same engine in a bare C++ loop and a naive libtorch loop doing the same math
//     (ConvTranspose2d upsampling, NCHW, weight gradients of frozen nets, f_A graph in step 2);
//  2. f_A frames/s at 64² and 112², and its achieved GFLOP/s against a GEMM peak measured now;
//  3. the same with one competing busy process;
//  4. RSS after 10 vs after N iterations (flat memory), and peak RSS.
// The naive loop also runs in a child process on Debian's default reference BLAS (what a machine
// without libopenblas0 uses); in-process it runs on whatever BLAS is installed (OpenBLAS here).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

import {
  engineConfigOf,
  loadNative,
  resolveConfig,
  SpactEngine,
  type LabelSpace,
  type TrainConfig,
} from '../native-models/ts/index.js';
import { machineContext, mdTable, writeResults } from './results-file.js';

const quick = process.argv.includes('--quick');
const childMode = process.argv.includes('--naive-child');
const threads = Math.min(2, os.availableParallelism());
const ITER = quick ? 3 : 10;
const MEM_ITERS = quick ? 30 : 1000;

const labels: LabelSpace = {
  actions: Array.from({ length: 8 }, (_, i) => `a${i}`),
  multiLabelActions: false,
  privacyAttributes: [],
};
// Same math on both sides: no augmentation (the naive loop has none).
const config: TrainConfig = resolveConfig({
  preset: 'edge',
  overrides: { threads, seed: 0, augment: { enabled: false }, data: { batchSize: 4, clipFrames: 8, frameStride: 1 } },
});
const [N, T, H, W] = [4, 8, 64, 64];

function randomBatch() {
  const frames = new Uint8Array(N * T * H * W * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = (i * 2654435761) >>> 24;
  return { frames, n: N, t: T, h: H, w: W, actions: Int32Array.from({ length: N }, (_, i) => i % 8) };
}

/** f_A multiply-adds ×2 per frame for the UNet in native-models/src/models.cc. */
function unetFlops(widths: number[], h: number, w: number, upsample: string): number {
  let macs = 0;
  const conv = (cin: number, cout: number, k: number, hh: number, ww: number) => (macs += cin * cout * k * k * hh * ww);
  conv(3, widths[0]!, 3, h, w);
  conv(widths[0]!, widths[0]!, 3, h, w);
  for (let i = 1; i < widths.length; i++) {
    const s = 2 ** i;
    conv(widths[i - 1]!, widths[i]!, 3, h / s, w / s);
    conv(widths[i]!, widths[i]!, 3, h / s, w / s);
  }
  for (let i = widths.length - 1; i >= 1; i--) {
    const lo = 2 ** i;
    const hi = 2 ** (i - 1);
    if (upsample === 'pixelshuffle') conv(widths[i]!, 4 * widths[i - 1]!, 1, h / lo, w / lo);
    else if (upsample === 'bilinear') conv(widths[i]!, widths[i - 1]!, 1, h / lo, w / lo);
    else macs += widths[i]! * widths[i - 1]! * 4 * (h / lo) * (w / lo);
    conv(2 * widths[i - 1]!, widths[i - 1]!, 3, h / hi, w / hi);
    conv(widths[i - 1]!, widths[i - 1]!, 3, h / hi, w / hi);
  }
  conv(widths[0]!, 3, 1, h, w);
  return 2 * macs;
}

/** Median of `reps` runs: one slow run (another process waking up) does not skew the result. */
async function median(reps: number, fn: () => Promise<number>): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < reps; i++) v.push(await fn());
  v.sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
}

async function minimaxMs(engine: SpactEngine, iterations: number): Promise<number> {
  const b1 = randomBatch();
  const b2 = randomBatch();
  await engine.stepA(b1);
  await engine.stepTB(b2);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    await engine.stepA(b1);
    await engine.stepTB(b2);
  }
  return (performance.now() - t0) / iterations;
}

async function fps(engine: SpactEngine, size: number, frames = 32): Promise<number> {
  const x = new Uint8Array(frames * size * size * 3).map((_, i) => i % 251);
  await engine.anonymize(x, frames, size, size);
  const reps = quick ? 2 : 5;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await engine.anonymize(x, frames, size, size);
  return (frames * reps) / ((performance.now() - t0) / 1000);
}

function busyProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
}

const native = loadNative();
if (childMode) {
  const ms = await median(3, () =>
    native.benchMinimax(engineConfigOf(config, labels), { variant: 'naive', iterations: ITER, n: N, t: T, h: H, w: W }),
  );
  const mm = await native.benchGemm(512, 3, threads, 'mm');
  process.stdout.write(JSON.stringify({ naiveMs: ms, mmGflops: mm }));
  process.exit(0);
}
const ctx = machineContext();
process.stderr.write(
  `bench:engine (${quick ? 'quick' : 'full'}) on ${ctx.cpu}, ${threads} threads, load ${ctx.loadavg}\n`,
);

// Peak: the best of several runs (the machine's limit, not its average).
const best = async (fn: () => Promise<number>) => Math.max(await fn(), await fn(), await fn());
const peakMm = await best(() => native.benchGemm(1024, quick ? 3 : 10, threads, 'mm'));
const peakConv = await best(() => native.benchGemm(1024, quick ? 3 : 10, threads, 'conv'));
const peak = Math.max(peakMm, peakConv);

const REPS = quick ? 1 : 3;
const engine = new SpactEngine(config, labels);
const engineMs = await median(REPS, () => minimaxMs(engine, ITER));
const shape = { iterations: ITER, n: N, t: T, h: H, w: W };
const bareMs = await median(REPS, () =>
  native.benchMinimax(engineConfigOf(config, labels), { variant: 'bare', ...shape }),
);
const naiveMs = await median(REPS, () =>
  native.benchMinimax(engineConfigOf(config, labels), { variant: 'naive', ...shape }),
);
const referenceBlas = '/usr/lib/x86_64-linux-gnu/blas';
let naiveRefBlas: { naiveMs: number; mmGflops: number } | null = null;
if (fs.existsSync(`${referenceBlas}/libblas.so.3`)) {
  process.stderr.write('naive loop on the reference BLAS (child process)…\n');
  const out = execFileSync(process.execPath, [process.argv[1]!, '--naive-child', ...(quick ? ['--quick'] : [])], {
    env: { ...process.env, LD_LIBRARY_PATH: referenceBlas },
    encoding: 'utf8',
  });
  naiveRefBlas = JSON.parse(out) as { naiveMs: number; mmGflops: number };
}
const fps64 = await median(REPS, () => fps(engine, 64));
const fps112 = await median(REPS, () => fps(engine, 112));
const flops112 = unetFlops(config.model.fA.widths, 112, 112, config.model.fA.upsample);
const gflops112 = (fps112 * flops112) / 1e9;

process.stderr.write('with one competing busy process…\n');
const busy = busyProcess();
await new Promise((r) => setTimeout(r, 500));
const busyMs = await minimaxMs(engine, Math.max(2, Math.floor(ITER / 2)));
const busyFps112 = await fps(engine, 112);
busy.kill();

process.stderr.write(`memory over ${MEM_ITERS} iterations…\n`);
const b1 = randomBatch();
const b2 = randomBatch();
let rss10 = 0;
for (let i = 1; i <= MEM_ITERS; i++) {
  await engine.stepA(b1);
  await engine.stepTB(b2);
  if (i === 10) rss10 = process.memoryUsage().rss;
  if (i % 100 === 0)
    process.stderr.write(`  ${i}/${MEM_ITERS}: RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`);
}
const rssN = process.memoryUsage().rss;
const peakRss = process.resourceUsage().maxRSS * 1024;

const MiB = (b: number) => (b / 2 ** 20).toFixed(0);
const results = {
  context: { ...ctx, threads, quick },
  minimax: {
    engineMs,
    bareMs,
    naiveMs,
    naiveRefBlasMs: naiveRefBlas?.naiveMs ?? null,
    refBlasMmGflops: naiveRefBlas?.mmGflops ?? null,
    speedupVsNaive: naiveMs / engineMs,
    speedupVsNaiveRefBlas: naiveRefBlas ? naiveRefBlas.naiveMs / engineMs : null,
    overheadVsBare: engineMs / bareMs,
    busyMs,
    slowdownUnderLoad: busyMs / engineMs,
  },
  fA: {
    fps64,
    fps112,
    busyFps112,
    flopsPerFrame112: flops112,
    gflops112,
    peakGflops: peak,
    peakMm,
    peakConv,
    fractionOfPeak: gflops112 / peak,
  },
  memory: {
    rssAfter10MiB: Number(MiB(rss10)),
    [`rssAfter${MEM_ITERS}MiB`]: Number(MiB(rssN)),
    growthRatio: rssN / rss10,
    peakRssMiB: Number(MiB(peakRss)),
  },
};

const md = `## Engine (\`npm run bench:engine${quick ? ' -- --quick' : ''}\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(' · ')} · threads: ${threads}

Minimax iteration, edge preset, ${N} clips × ${T} frames × ${H}², augmentation off (same math in all three):

${mdTable(
  ['loop', 'ms / iteration', 'ratio'],
  [
    ['engine (JS API → native compute thread)', engineMs.toFixed(0), '1.00'],
    ['same engine, bare C++ loop', bareMs.toFixed(0), `engine/bare ${(engineMs / bareMs).toFixed(2)} (goal ≤ 1.1)`],
    ...(naiveRefBlas
      ? [
          [
            `naive libtorch loop (ConvTranspose2d, NCHW, no freezing), Debian's default reference BLAS (${naiveRefBlas.mmGflops.toFixed(1)} GFLOP/s GEMM), child process`,
            naiveRefBlas.naiveMs.toFixed(0),
            `naive/engine ${(naiveRefBlas.naiveMs / engineMs).toFixed(2)} (goal ≥ 1.7)`,
          ],
        ]
      : []),
    [
      'same naive loop, in-process, OpenBLAS (installed by setup)',
      naiveMs.toFixed(0),
      `naive/engine ${(naiveMs / engineMs).toFixed(2)}`,
    ],
    ['engine, one competing busy process', busyMs.toFixed(0), `${(busyMs / engineMs).toFixed(2)}× slower`],
  ],
)}

f_A (edge UNet ${config.model.fA.widths.join('-')}, ${config.model.fA.upsample}, channels-last), batches of 32 frames:

${mdTable(
  ['measure', 'value'],
  [
    ['frames/s at 64²', fps64.toFixed(0)],
    ['frames/s at 112² (goal ≥ 150)', fps112.toFixed(0)],
    ['frames/s at 112², one competing busy process', busyFps112.toFixed(0)],
    ['GFLOP per frame at 112²', (flops112 / 1e9).toFixed(3)],
    ['achieved GFLOP/s at 112²', gflops112.toFixed(1)],
    [
      'GEMM peak measured now (max of BLAS mm / oneDNN 1×1 conv, 1024³)',
      `${peak.toFixed(1)} (mm ${peakMm.toFixed(1)}, conv ${peakConv.toFixed(1)})`,
    ],
    ['fraction of peak', `${((100 * gflops112) / peak).toFixed(0)}%`],
  ],
)}

Memory: RSS after 10 iterations ${MiB(rss10)} MiB, after ${MEM_ITERS} iterations ${MiB(rssN)} MiB (×${(rssN / rss10).toFixed(2)}); peak RSS ${MiB(peakRss)} MiB.
`;

writeResults('engine', md, results);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
