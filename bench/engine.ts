// `npm run bench:engine [-- --quick]`: speed and memory of the SPAct engine on this machine.
//  1. ms per minimax iteration (edge preset, 4 clips × 8 frames × 64², augmentation off): the
//     engine through its JS API, the same engine in a bare C++ loop, and — when Debian's
//     python3-torch is installed — the same work in plain PyTorch (bench/torch-reference.py: the
//     nets ported layer by layer, NCHW and channels-last f_A), run interleaved in rounds so that a
//     noisy neighbour hits every loop alike. Each figure is the median of ≥ 12 timed iterations
//     after warm-up; GFLOP per iteration is counted from the nets (bench/flops.ts) and set against
//     a GEMM peak measured in the same run.
//  2. Where the time goes: each phase of step 1 and step 2 (the engine's profiling mode).
//  3. The same with one competing busy process (the engine and, when present, PyTorch).
//  4. f_A at working sizes 112/240/360/480 (short side, 4:3 frames): frames/s, achieved GFLOP/s,
//     fraction of the peak, and peak memory (each size in its own child process).
//  5. RSS after 10 vs after N iterations (flat memory), and peak RSS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';

import {
  cpuBatchPixelsPerCall,
  engineConfigOf,
  loadNative,
  resolveConfig,
  SpactEngine,
  type LabelSpace,
  type TrainConfig,
} from '../native-models/ts/index.js';
import { macsOf, minimaxFlops, unetLayers } from './flops.js';
import { machineContext, mdTable, writeResults } from './results-file.js';
import { runTorchReference, torchReferenceAvailable, type TorchReferenceLayout } from './torch-reference.js';

// --- Configuration ---------------------------------------------------------------------------
const quick = process.argv.includes('--quick');
const faChild = process.argv.indexOf('--fa-child'); // `--fa-child SIZE`: one f_A size, then exit
const threads = Math.min(2, os.availableParallelism());
const ITERATIONS = 12; // timed iterations per loop and round (the issue's minimum for a median)
const WARMUP = 3;
const ROUNDS = quick ? 1 : 3; // interleaved rounds of every loop
const MEM_ITERS = quick ? 30 : 1000;
const SIZES = quick ? [112, 240] : [112, 240, 360, 480];

const labels: LabelSpace = {
  actions: Array.from({ length: 8 }, (_, i) => `a${i}`),
  multiLabelActions: false,
  privacyAttributes: [],
};
// Same math in every loop: no augmentation (the reference has none).
const config: TrainConfig = resolveConfig({
  preset: 'edge',
  overrides: { threads, seed: 0, augment: { enabled: false }, data: { batchSize: 4, clipFrames: 8, frameStride: 1 } },
});
const [N, T, H, W] = [4, 8, 64, 64];
const flops = minimaxFlops(config.model, labels.actions.length, config.data.clipFrames, N, T, H, W);
const gflopPerIteration = flops.total / 1e9;

function randomBatch(seed: number) {
  const frames = new Uint8Array(N * T * H * W * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = ((i + seed) * 2654435761) >>> 24;
  return { frames, n: N, t: T, h: H, w: W, actions: Int32Array.from({ length: N }, (_, i) => i % 8) };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Frame size for a working size (short side) at 4:3, both sides multiples of f_A's divisor. */
function frameSize(short: number, divisor: number): [number, number] {
  const h = Math.round(short / divisor) * divisor;
  return [h, Math.round((short * 4) / 3 / divisor) * divisor];
}

// --- f_A child: one working size in a fresh process, so its peak memory is its own -------------
if (faChild >= 0) {
  const size = Number(process.argv[faChild + 1]);
  loadNative();
  const engine = new SpactEngine(config, labels);
  const [h, w] = frameSize(size, engine.describe().divisor);
  // Frames per call as the Anonymizer groups them on a CPU (cpuBatchPixelsPerCall: bigger calls
  // are slower per pixel here).
  const frames = Math.max(1, Math.floor(cpuBatchPixelsPerCall(config.model.fA) / (h * w)));
  const x = new Uint8Array(frames * h * w * 3).map((_, i) => i % 251);
  const rssBefore = process.resourceUsage().maxRSS;
  await engine.anonymize(x, frames, h, w); // warm-up
  const samples: number[] = [];
  const reps = quick ? 3 : 8;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await engine.anonymize(x, frames, h, w);
    samples.push(performance.now() - t0);
  }
  const fps = frames / (median(samples) / 1000);
  const flopPerFrame = 2 * macsOf(unetLayers(config.model.fA, 1, h, w));
  process.stdout.write(
    JSON.stringify({
      size,
      h,
      w,
      framesPerBatch: frames,
      fps,
      flopPerFrame,
      gflops: (fps * flopPerFrame) / 1e9,
      peakRssMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
      rssBeforeMiB: (rssBefore * 1024) / 2 ** 20,
    }),
  );
  process.exit(0);
}

// --- Loops ---------------------------------------------------------------------------------------
const native = loadNative();
const ctx = machineContext();
const log = (m: string) => process.stderr.write(`[bench:engine] ${m}\n`);
log(`${quick ? 'quick' : 'full'} run on ${ctx.cpu}, ${threads} threads, load ${ctx.loadavg}`);

/** Per-iteration ms of the engine through its JS API (after warm-up). */
async function engineSamples(engine: SpactEngine, iterations = ITERATIONS): Promise<number[]> {
  const b1 = randomBatch(1);
  const b2 = randomBatch(2);
  for (let i = 0; i < WARMUP; i++) {
    await engine.stepA(b1);
    await engine.stepTB(b2);
  }
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await engine.stepA(b1);
    await engine.stepTB(b2);
    out.push(performance.now() - t0);
  }
  return out;
}

const shape = { iterations: ITERATIONS, n: N, t: T, h: H, w: W };
const torch = torchReferenceAvailable();
if (!torch.ok) log(`no PyTorch reference: ${torch.reason}`);
const layouts: TorchReferenceLayout[] = ['plain', 'channels-last'];
const refConfig = engineConfigOf(config, labels) as unknown as Record<string, unknown>;

// Peak: the best of several runs (the machine's limit, not its average), on the compute thread.
const best = async (fn: () => Promise<number>) => Math.max(await fn(), await fn(), await fn());
const peakMm = await best(() => native.benchGemm(1024, quick ? 3 : 10, threads, 'mm'));
const peakConv = await best(() => native.benchGemm(1024, quick ? 3 : 10, threads, 'conv'));
const peak = Math.max(peakMm, peakConv);
log(`GEMM peak ${peak.toFixed(0)} GFLOP/s (mm ${peakMm.toFixed(0)}, conv ${peakConv.toFixed(0)})`);

const engine = new SpactEngine(config, labels);
const samples = {
  engine: [] as number[],
  bare: [] as number[],
  plain: [] as number[],
  'channels-last': [] as number[],
};
for (let round = 1; round <= ROUNDS; round++) {
  samples.engine.push(...(await engineSamples(engine)));
  samples.bare.push(await native.benchMinimax(engineConfigOf(config, labels), { variant: 'bare', ...shape }));
  if (torch.ok) {
    for (const layout of layouts) {
      const r = await runTorchReference({ layout, threads, iterations: ITERATIONS, warmup: WARMUP, config: refConfig });
      samples[layout].push(...r.samples);
    }
  }
  log(
    `round ${round}/${ROUNDS}: engine ${median(samples.engine).toFixed(0)} ms, bare ${median(samples.bare).toFixed(0)} ms` +
      (torch.ok
        ? `, PyTorch plain ${median(samples.plain).toFixed(0)} ms, channels-last ${median(samples['channels-last']).toFixed(0)} ms`
        : ''),
  );
}
const engineMs = median(samples.engine);
const bareMs = median(samples.bare);
const plainMs = torch.ok ? median(samples.plain) : null;
const clMs = torch.ok ? median(samples['channels-last']) : null;
const gflops = (ms: number) => gflopPerIteration / (ms / 1000);

// --- Where the time goes ---------------------------------------------------------------------------
log('per-phase split (profiling mode)…');
engine.setProfiling(true);
const phaseSums = { step1: {} as Record<string, number>, step2: {} as Record<string, number> };
{
  const b1 = randomBatch(1);
  const b2 = randomBatch(2);
  const add = (into: Record<string, number>, stats: Record<string, number | undefined>) => {
    for (const [k, v] of Object.entries(stats))
      if (k.startsWith('ms_') && v !== undefined) into[k.slice(3)] = (into[k.slice(3)] ?? 0) + v;
  };
  for (let i = 0; i < WARMUP; i++) {
    await engine.stepA(b1);
    await engine.stepTB(b2);
  }
  for (let i = 0; i < ITERATIONS; i++) {
    add(phaseSums.step1, (await engine.stepA(b1)) as Record<string, number>);
    add(phaseSums.step2, (await engine.stepTB(b2)) as Record<string, number>);
  }
}
engine.setProfiling(false);
const phaseFlops: Record<string, number> = {
  'step1 fA_fwd': flops.phases.step1_fA_fwd,
  'step1 fT_fwd': flops.phases.step1_fT_fwd,
  'step1 fB_fwd': flops.phases.step1_fB_fwd,
  'step1 fT_bwd': flops.phases.step1_fT_bwd,
  'step1 fB_bwd': flops.phases.step1_fB_bwd,
  'step1 fA_bwd': flops.phases.step1_fA_bwd,
  'step2 fA_fwd': flops.phases.step2_fA_fwd,
  'step2 fT_fwd': flops.phases.step2_fT_fwd,
  'step2 fT_bwd': flops.phases.step2_fT_bwd,
  'step2 fB_fwd': flops.phases.step2_fB_fwd,
  'step2 fB_bwd': flops.phases.step2_fB_bwd,
};
const phases = (['step1', 'step2'] as const).flatMap((step) =>
  Object.entries(phaseSums[step]).map(([name, total]) => {
    const ms = total / ITERATIONS;
    const f = phaseFlops[`${step} ${name}`];
    return { step, name, ms, gflop: f ? f / 1e9 : null, gflops: f ? f / 1e9 / (ms / 1000) : null };
  }),
);
const profiledMs = phases.reduce((a, p) => a + p.ms, 0);

// --- Contention --------------------------------------------------------------------------------------
function busyProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
}
log('with one competing busy process…');
const busy = busyProcess();
await new Promise((r) => setTimeout(r, 500));
let busyMs: number;
let busyPlainMs: number | null = null;
try {
  busyMs = median(await engineSamples(engine));
  if (torch.ok && !quick) {
    const r = await runTorchReference({
      layout: 'plain',
      threads,
      iterations: ITERATIONS,
      warmup: WARMUP,
      config: refConfig,
    });
    busyPlainMs = r.msPerIteration;
  }
} finally {
  busy.kill();
}

// --- f_A at working sizes (child processes) ------------------------------------------------------------
interface FaResult {
  size: number;
  h: number;
  w: number;
  framesPerBatch: number;
  fps: number;
  flopPerFrame: number;
  gflops: number;
  peakRssMiB: number;
  rssBeforeMiB: number;
}
const fa: FaResult[] = [];
for (const size of SIZES) {
  log(`f_A at working size ${size}…`);
  const out = execFileSync(
    process.execPath,
    [process.argv[1]!, '--fa-child', String(size), ...(quick ? ['--quick'] : [])],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  fa.push(JSON.parse(out) as FaResult);
}

// --- Memory over many iterations ---------------------------------------------------------------------
log(`memory over ${MEM_ITERS} iterations…`);
const b1 = randomBatch(1);
const b2 = randomBatch(2);
let rss10 = 0;
for (let i = 1; i <= MEM_ITERS; i++) {
  await engine.stepA(b1);
  await engine.stepTB(b2);
  if (i === 10) rss10 = process.memoryUsage().rss;
  if (i % 100 === 0) log(`  ${i}/${MEM_ITERS}: RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
}
const rssN = process.memoryUsage().rss;
const peakRss = process.resourceUsage().maxRSS * 1024;

// --- Results -------------------------------------------------------------------------------------------
const MiB = (b: number) => (b / 2 ** 20).toFixed(0);
const audit = native.threadAudit();
const results = {
  context: {
    ...ctx,
    threads,
    quick,
    ompWaitPolicy: process.env.OMP_WAIT_POLICY ?? null,
    gompSpinCount: process.env.GOMP_SPINCOUNT ?? null,
    adaptiveThreads: process.env.SPACT_ADAPTIVE_THREADS !== '0',
  },
  minimax: {
    gflopPerIteration,
    iterationsPerMedian: ITERATIONS * ROUNDS,
    engineMs,
    bareMs,
    torchPlainMs: plainMs,
    torchChannelsLastMs: clMs,
    torchReference: torch.ok ? 'bench/torch-reference.py' : torch.reason,
    engineGflops: gflops(engineMs),
    fractionOfPeak: gflops(engineMs) / peak,
    speedupVsPlain: plainMs ? plainMs / engineMs : null,
    speedupVsChannelsLast: clMs ? clMs / engineMs : null,
    overheadVsBare: engineMs / bareMs,
    busyMs,
    slowdownUnderLoad: busyMs / engineMs,
    torchPlainBusyMs: busyPlainMs,
    torchSlowdownUnderLoad: busyPlainMs && plainMs ? busyPlainMs / plainMs : null,
    samples,
  },
  phases: { profiledMs, unprofiledMs: engineMs, split: phases },
  peak: { gflops: peak, mm: peakMm, conv: peakConv },
  fA: fa.map((r) => ({ ...r, fractionOfPeak: r.gflops / peak })),
  memory: {
    rssAfter10MiB: Number(MiB(rss10)),
    [`rssAfter${MEM_ITERS}MiB`]: Number(MiB(rssN)),
    growthRatio: rssN / rss10,
    peakRssMiB: Number(MiB(peakRss)),
  },
  threadAudit: audit,
};

const row = (name: string, ms: number | null, note = '') =>
  ms === null
    ? [name, '–', '–', note]
    : [name, ms.toFixed(0), gflops(ms).toFixed(0), `${(ms / engineMs).toFixed(2)}${note ? ` ${note}` : ''}`];
const md = `## Engine (\`npm run bench:engine${quick ? ' -- --quick' : ''}\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(
    ' · ',
  )} · threads: ${threads} (fewer while other processes keep CPUs busy: ${process.env.SPACT_ADAPTIVE_THREADS === '0' ? 'off' : 'on'}) · OMP_WAIT_POLICY: ${process.env.OMP_WAIT_POLICY ?? 'unset'} · GOMP_SPINCOUNT: ${process.env.GOMP_SPINCOUNT ?? 'unset'}

Minimax iteration (step 1 + step 2), edge preset, ${N} clips × ${T} frames × ${H}², augmentation off, the same work in every loop: ${gflopPerIteration.toFixed(1)} GFLOP per iteration counted from the nets (bench/flops.ts). Medians of ${ITERATIONS * ROUNDS} timed iterations after warm-up, in ${ROUNDS} interleaved round(s). GEMM peak measured in the same run: ${peak.toFixed(0)} GFLOP/s (max of BLAS mm ${peakMm.toFixed(0)} / oneDNN 1×1 conv ${peakConv.toFixed(0)}, 1024³).

${mdTable(
  ['loop', 'ms / iteration', 'GFLOP/s', 'time ÷ engine'],
  [
    row(
      'engine (JS API → the process compute thread)',
      engineMs,
      `(${((100 * gflops(engineMs)) / peak).toFixed(0)} % of peak)`,
    ),
    row('same engine, bare C++ loop', bareMs),
    ...(torch.ok
      ? [
          row(
            'PyTorch 1.13, plain NCHW (bench/torch-reference.py)',
            plainMs,
            `— engine ${(plainMs! / engineMs).toFixed(2)}× faster (goal ≥ 1.75)`,
          ),
          row('PyTorch 1.13, channels-last f_A', clMs, `— engine ${(clMs! / engineMs).toFixed(2)}× faster (goal ≥ 1)`),
        ]
      : [['PyTorch reference', '–', '–', `not run: ${torch.reason}`]]),
    row('engine, one competing busy process', busyMs, `(${(busyMs / engineMs).toFixed(2)}× slower; goal ≤ 1.6)`),
    ...(busyPlainMs !== null
      ? [
          row(
            'PyTorch plain, one competing busy process',
            busyPlainMs,
            `(${(busyPlainMs / plainMs!).toFixed(2)}× slower than itself)`,
          ),
        ]
      : []),
  ],
)}

Where the time of an iteration goes (profiling mode: each phase timed, step 1's backward split net by net — profiled total ${profiledMs.toFixed(0)} ms vs ${engineMs.toFixed(0)} ms unprofiled):

${mdTable(
  ['step', 'phase', 'ms', 'share', 'GFLOP', 'GFLOP/s'],
  phases
    .slice()
    .sort((a, b) => b.ms - a.ms)
    .map((p) => [
      p.step,
      p.name,
      p.ms.toFixed(1),
      `${((100 * p.ms) / profiledMs).toFixed(0)} %`,
      p.gflop === null ? '–' : p.gflop.toFixed(2),
      p.gflops === null ? '–' : p.gflops.toFixed(0),
    ]),
)}

f_A inference (edge UNet ${config.model.fA.widths.join('-')}, ${config.model.fA.upsample}, channels-last) at working sizes, 4:3 frames, each size in its own process (goal: ≥ 60 % of the peak):

${mdTable(
  ['working size', 'frame', 'frames / batch', 'frames/s', 'GFLOP/frame', 'GFLOP/s', 'of peak', 'peak RSS (MiB)'],
  fa.map((r) => [
    r.size,
    `${r.w}×${r.h}`,
    r.framesPerBatch,
    r.fps.toFixed(r.fps < 10 ? 1 : 0),
    (r.flopPerFrame / 1e9).toFixed(2),
    r.gflops.toFixed(0),
    `${((100 * r.gflops) / peak).toFixed(0)} %`,
    r.peakRssMiB.toFixed(0),
  ]),
)}

Memory: RSS after 10 iterations ${MiB(rss10)} MiB, after ${MEM_ITERS} iterations ${MiB(rssN)} MiB (×${(rssN / rss10).toFixed(2)}); peak RSS ${MiB(peakRss)} MiB. Engine entry points on the compute thread: ${audit.onCompute}, off it: ${audit.offCompute}.
`;

writeResults('engine', md, results);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
