// `npm run bench:pipeline [-- --model RUN_DIR|default]`: the export pipeline (decode → f_A →
// H.264 encode) on a 10 s 640×480 clip against f_A alone on the same frames (goal ≤ 1.3×), its
// frames/s, and peak RSS for a 10 s vs a 60 s clip (each in a fresh process: memory must not grow
// with clip length).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { anonymizeFile, DEFAULT_SETTINGS } from '../electron/core/anonymize/anonymize-service.js';
import { ffmpegPath } from '../electron/core/media/ffmpeg.js';
import { decodeFrames, probeVideo, workingSize } from '../electron/core/media/video.js';
import { Anonymizer, ClipDatasetWriter, defaultModelDir, mulberry32, train } from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeResults } from './results-file.js';

const argv = process.argv.slice(2);
const arg = benchArg;
const cache = path.join(benchDir, '.cache', 'pipeline');
fs.mkdirSync(cache, { recursive: true });
const threads = Math.min(2, os.availableParallelism());
const settings = { ...DEFAULT_SETTINGS, size: 112, batch: 16 };

function makeClip(seconds: number): string {
  const file = path.join(cache, `testsrc-640x480-${seconds}s.mp4`);
  if (!fs.existsSync(file)) {
    const r = spawnSync(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=640x480:rate=25:duration=${seconds}`,
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

if (argv[0] === '--child') {
  // One pipeline run in a fresh process, for its peak RSS.
  const [, input, model, out] = argv as [string, string, string, string];
  const anonymizer = await Anonymizer.load(model, { threads });
  const r = await anonymizeFile(anonymizer, input, out, settings);
  process.stdout.write(
    JSON.stringify({
      frames: r.frames,
      seconds: r.seconds,
      fps: r.fps,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
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

const child = (input: string) =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [process.argv[1]!, '--child', input, model, path.join(cache, `child-${path.basename(input)}`)],
      {
        encoding: 'utf8',
      },
    ),
  ) as { frames: number; seconds: number; fps: number; peakRssMiB: number };
const short = child(clip10);
const long = child(clip60);

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
`;
writeResults('pipeline', md, { context: ctx, model, width, height, frames, modelMs, pipelineMs, ratio, short, long });
process.stdout.write(`${JSON.stringify({ modelMs, pipelineMs, ratio, short, long }, null, 2)}\n`);
