// `npm run bench:pipeline [-- --model RUN_DIR|default] [--skip-sizes]`: the export pipeline
// (decode → f_A → H.264 encode) on a 10 s 640×480 clip against f_A alone on the same frames (goal
// ≤ 1.3×), its frames/s, peak RSS for a 10 s vs a 60 s clip (each in a fresh process: memory must
// not grow with clip length), and peak RSS at working sizes 112 … 2160 (MAX_WORKING_SIZE) on a
// 2 s 3840×2160 clip (goal: 2160 within ~1.5× of 576; an untiled 2160 once reached 22.7 GB).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { anonymizeFile, DEFAULT_SETTINGS } from '../electron/core/anonymize/anonymize-service.js';
import { ffmpegPath } from '../electron/core/media/ffmpeg.js';
import { decodeFrames, probeVideo, workingSize } from '../electron/core/media/video.js';
import { MAX_WORKING_SIZE } from '../electron/core/media/working-size.js';
import { Anonymizer, ClipDatasetWriter, defaultModelDir, mulberry32, train } from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeResults } from './results-file.js';

const argv = process.argv.slice(2);
const arg = benchArg;
const cache = path.join(benchDir, '.cache', 'pipeline');
fs.mkdirSync(cache, { recursive: true });
const threads = Math.min(2, os.availableParallelism());
const settings = { ...DEFAULT_SETTINGS, size: 112, batch: 16 };
/** Working sizes whose peak RSS is measured (the last is the largest allowed). */
const SIZES = [112, 576, 1080, MAX_WORKING_SIZE];

function makeClip(seconds: number, size = '640x480', rate = 25): string {
  const file = path.join(cache, `testsrc-${size}-${rate}fps-${seconds}s.mp4`);
  if (!fs.existsSync(file)) {
    const r = spawnSync(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-y',
      file,
    ]);
    if (r.status !== 0) throw new Error(`could not make ${file}`);
  }
  return file;
}

/** A model to time: --model, else the shipped default, else an untrained edge model (same speed). */
async function modelPath(): Promise<string> {
  const chosen = arg('--model');
  if (chosen) return chosen === 'default' ? defaultModelDir() : chosen;
  if (fs.existsSync(path.join(defaultModelDir(), 'checkpoint.pt'))) return defaultModelDir();
  const run = path.join(cache, 'untrained-edge');
  if (!fs.existsSync(path.join(run, 'checkpoint.pt'))) {
    const data = path.join(cache, 'noise-data');
    const rand = mulberry32(1);
    const w = new ClipDatasetWriter(data, { frames: 16, height: 32, width: 32 }, { actions: ['a', 'b'] });
    for (let i = 0; i < 8; i++)
      w.add(
        'train',
        Uint8Array.from({ length: 16 * 32 * 32 * 3 }, () => rand() * 255),
        i % 2,
      );
    w.finish();
    await train({
      data,
      out: run,
      overrides: { data: { batchSize: 4 }, init: { maxStepsA: 0, maxStepsTB: 0 }, minimax: { steps: 0 }, threads },
    });
  }
  return run;
}

/** RSS of this process and all its descendants (the ffmpeg decoder and encoder), MiB; null off Linux. */
function treeRssMiB(pid = process.pid): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    let kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const c of children ? children.split(/\s+/) : []) kib += (treeRssMiB(Number(c)) ?? 0) * 1024;
    }
    return kib / 1024;
  } catch {
    return pid === process.pid ? null : 0;
  }
}

if (argv[0] === '--child') {
  // One pipeline run in a fresh process, for its peak RSS (and, sampled, with its ffmpeg children).
  const [, input, model, out, size] = argv as [string, string, string, string, string | undefined];
  const anonymizer = await Anonymizer.load(model, { threads });
  let treePeak = treeRssMiB();
  const sampler = setInterval(() => {
    const now = treeRssMiB();
    if (now !== null) treePeak = Math.max(treePeak ?? 0, now);
  }, 100);
  const r = await anonymizeFile(anonymizer, input, out, { ...settings, ...(size ? { size: Number(size) } : {}) });
  clearInterval(sampler);
  process.stdout.write(
    JSON.stringify({
      frames: r.frames,
      seconds: r.seconds,
      fps: r.fps,
      width: r.width,
      height: r.height,
      maxPixelsPerCall: anonymizer.maxPixelsPerCall,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      treePeakMiB: treePeak,
    }),
  );
  process.exit(0);
}

const model = await modelPath();
const clip10 = makeClip(10);
const clip60 = makeClip(60);
const anonymizer = await Anonymizer.load(model, { threads });
const info = await probeVideo(clip10);
const { width, height } = workingSize(info, settings.size);

// Model-only: the same frames, decoded beforehand, through f_A in the same batches.
const batches: { frames: Uint8Array; n: number }[] = [];
for await (const b of decodeFrames(clip10, { width, height, fps: info.fps, batch: settings.batch }))
  batches.push({ frames: b.frames.slice(), n: b.n });
await anonymizer.anonymize(batches[0]!.frames, batches[0]!.n, height, width); // warm-up
const runs = 3;
let modelMs = Infinity;
let pipelineMs = Infinity;
let frames = 0;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  for (const b of batches) await anonymizer.anonymize(b.frames, b.n, height, width);
  modelMs = Math.min(modelMs, performance.now() - t0);
  const out = path.join(cache, 'out-10s.mp4');
  const r = await anonymizeFile(anonymizer, clip10, out, settings);
  pipelineMs = Math.min(pipelineMs, r.seconds * 1000);
  frames = r.frames;
}

interface ChildResult {
  frames: number;
  seconds: number;
  fps: number;
  width: number;
  height: number;
  maxPixelsPerCall: number;
  peakRssMiB: number;
  treePeakMiB: number | null;
}
const child = (input: string, size?: number) =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [
        process.argv[1]!,
        '--child',
        input,
        model,
        path.join(cache, `child-${size ?? ''}${path.basename(input)}`),
        ...(size ? [String(size)] : []),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  ) as ChildResult;
const short = child(clip10);
const long = child(clip60);

// Peak RSS at each working size, one fresh process each, on a 2 s 4K clip (10 fps: 20 frames).
const bySize: { size: number; r: ChildResult }[] = [];
if (!argv.includes('--skip-sizes')) {
  const clip4k = makeClip(2, '3840x2160', 10);
  for (const size of SIZES) {
    process.stderr.write(`working size ${size}…\n`);
    bySize.push({ size, r: child(clip4k, size) });
  }
}
const at = (size: number) => bySize.find((b) => b.size === size)?.r;
const sizeRatio = at(MAX_WORKING_SIZE) && at(576) ? at(MAX_WORKING_SIZE)!.peakRssMiB / at(576)!.peakRssMiB : null;

const ctx = machineContext();
const ratio = pipelineMs / modelMs;
const md = `## Export pipeline (\`npm run bench:pipeline\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(' · ')} · threads: ${threads} · model: ${path.relative(path.dirname(benchDir), model)}

640×480 25 fps test clip (ffmpeg testsrc2), working size ${width}×${height}, batches of ${settings.batch} frames, best of ${runs}:

${mdTable(
  ['measure', 'value'],
  [
    [
      'f_A only on the decoded frames (10 s, ' + frames + ' frames)',
      `${modelMs.toFixed(0)} ms (${((frames / modelMs) * 1000).toFixed(0)} frames/s)`,
    ],
    [
      'decode → f_A → H.264 encode (10 s)',
      `${pipelineMs.toFixed(0)} ms (${((frames / pipelineMs) * 1000).toFixed(0)} frames/s)`,
    ],
    ['pipeline / model-only (goal ≤ 1.3)', ratio.toFixed(2)],
    ['peak RSS, 10 s clip (fresh process)', `${short.peakRssMiB.toFixed(0)} MiB`],
    [
      'peak RSS, 60 s clip (fresh process)',
      `${long.peakRssMiB.toFixed(0)} MiB (×${(long.peakRssMiB / short.peakRssMiB).toFixed(2)})`,
    ],
  ],
)}
${
  bySize.length
    ? `
Peak RSS by working size: a 2 s 3840×2160 10 fps test clip (testsrc2, 20 frames) anonymized at each
working size in a fresh process (\`--size N\`, batches of up to ${settings.batch} frames and at most
64 MiB; f_A calls of at most ${bySize[0]!.r.maxPixelsPerCall.toLocaleString('en')} pixels, larger frames tiled). "with ffmpeg" adds
the decoder and encoder processes (sampled every 100 ms). Goal: 2160 within ~1.5× of 576 (before
tiling, 2160 grew to 22.7 GB and was killed):

${mdTable(
  ['working size', 'frame f_A sees', 'peak RSS (node)', 'with ffmpeg', 'vs 576', 'frames/s'],
  bySize.map(({ size, r }) => [
    size,
    `${r.width}×${r.height}`,
    `${r.peakRssMiB.toFixed(0)} MiB`,
    r.treePeakMiB === null ? '–' : `${r.treePeakMiB.toFixed(0)} MiB`,
    at(576) ? `×${(r.peakRssMiB / at(576)!.peakRssMiB).toFixed(2)}` : '–',
    r.fps.toFixed(2),
  ]),
)}
`
    : ''
}`;
writeResults('pipeline', md, {
  context: ctx,
  model,
  width,
  height,
  frames,
  modelMs,
  pipelineMs,
  ratio,
  short,
  long,
  bySize,
  sizeRatio,
});
process.stdout.write(`${JSON.stringify({ modelMs, pipelineMs, ratio, short, long, bySize, sizeRatio }, null, 2)}\n`);
