// `npm run bench:real [-- --footage FILE] [--finetune-part A-B] [--val-part A-B] [--audit-part A-B]
//   [--methods NAME,…] [--finetune-steps N] [--fresh] [--quick] [--out DIR] [--cache DIR]`: the learned anonymizer
// against classic filters on real camera footage, judged by the video privacy audit
// (electron/core/privacy-audit/video-audit.ts) with identical judges on the footage's audit part:
// identity (worst whole-body attacker holding raw pictures of the people, and worst attacker seeing
// only anonymized footage) against utility (person recall, pose agreement).
//
// The footage is split in time: the room-adapted model is fine-tuned on the first part (no labels),
// its checkpoints are selected on the validation part (by the audit's own figures), and every
// method is judged on the audit part only. Classic filters are applied in memory to the audit
// part's frames at the analysis size; the models anonymize the audit part extracted to a file the
// way the product does (anonymizeFile, working size as the app would choose, output size
// 'working'), and their output is decoded back at the analysis size. Results: a table in
// bench/RESULTS.md (markers real:start/real:end), bench/results/real.json and two SVG plots
// (identity vs person recall, identity vs pose) with the classic frontier, chance and the goal.
//
// --quick: a CI-sized run on the 6 s test excerpt (splits 0–2/2–3/3–4.5 s; raw, grayscale, blur8,
// default model at 112 px; a smaller audit budget) that writes into --out (default: a fresh temp
// folder), never bench/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { anonymizeFile, DEFAULT_SETTINGS } from '../electron/core/anonymize/anonymize-service.js';
import { ffmpegPath } from '../electron/core/media/ffmpeg.js';
import { probeVideo } from '../electron/core/media/video.js';
import {
  estimatePersonHeightFraction,
  resolveWorkingSize,
  type PersonHeightEstimate,
} from '../electron/core/media/working-size.js';
import type { FrameSet } from '../electron/core/privacy-audit/identity.js';
import { Judges } from '../electron/core/privacy-audit/judges.js';
import {
  analyzeRaw,
  decodeWindow,
  judgeAnonymized,
  type RawAnalysis,
  type VideoAuditOptions,
  type VideoAuditReport,
} from '../electron/core/privacy-audit/video-audit.js';
import { finetune } from '../electron/core/training/finetune.js';
import { Anonymizer, defaultModelDir, fileSha256, readCheckpointMeta } from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeAtomic, writeJsonAtomic } from './results-file.js';

const t0 = performance.now();
const argv = process.argv.slice(2);
const arg = benchArg;
const flag = (name: string) => argv.includes(name);
const log = (m: string) => process.stderr.write(`[bench:real] ${m}\n`);
const fail = (m: string): never => {
  process.stderr.write(`bench:real: ${m}\n`);
  process.exit(1);
};
const repoRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();

// ---------------------------------------------------------------- options

const quick = flag('--quick');
const fresh = flag('--fresh');
const footageArg = arg('--footage');
const footage = footageArg
  ? path.resolve(footageArg)
  : path.resolve(repoRoot, quick ? 'test/fixtures/footage/room-a-excerpt.mp4' : '../shared/footage/room-a.mp4');
if (!fs.existsSync(footage) || !fs.statSync(footage).isFile())
  fail(`footage ${footage} not found (give one with --footage FILE)`);

interface Part {
  start: number;
  end: number;
}
function parsePart(name: string, fallback: string): Part {
  const text = arg(name) ?? fallback;
  const m = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!m || !(Number(m[2]) > Number(m[1]))) fail(`${name} must be START-END in seconds (START < END), got "${text}"`);
  return { start: Number(m![1]), end: Number(m![2]) };
}
const parts = {
  finetune: parsePart('--finetune-part', quick ? '0-2' : '0-20'),
  val: parsePart('--val-part', quick ? '2-3' : '20-25'),
  // --quick: 15 frames judged (the person detector on every frame of every method is most of the time).
  audit: parsePart('--audit-part', quick ? '3-4.5' : '25-39.5'),
};
const overlaps = (a: Part, b: Part) => a.start < b.end && b.start < a.end;
if (overlaps(parts.audit, parts.finetune) || overlaps(parts.audit, parts.val))
  fail('the audit part must not overlap the fine-tune or validation part (never evaluate on what is fine-tuned on)');
if (overlaps(parts.val, parts.finetune)) fail('the validation part must not overlap the fine-tune part');
const finetuneSteps = arg('--finetune-steps') === undefined ? undefined : Number(arg('--finetune-steps'));
if (finetuneSteps !== undefined && !(Number.isInteger(finetuneSteps) && finetuneSteps >= 1))
  fail('--finetune-steps must be a positive integer');

type Kind = 'classic' | 'reference' | 'model';
interface MethodDef {
  name: string;
  label: string;
  kind: Kind;
  /** What it does, exactly (in the JSON and the table's notes). */
  what: string;
}
const METHODS: MethodDef[] = [
  { name: 'raw', label: 'raw', kind: 'classic', what: 'the raw frames' },
  { name: 'grayscale', label: 'grayscale', kind: 'classic', what: 'BT.601 luma in all three channels' },
  ...[2, 4, 8, 16].map((s) => ({
    name: `blur${s}`,
    label: `Gaussian blur σ ${s}`,
    kind: 'classic' as const,
    what: `separable Gaussian, σ = ${s} px at the analysis size, kernel radius ⌈3σ⌉ = ${Math.ceil(3 * s)}, borders replicated`,
  })),
  ...[8, 16].map((n) => ({
    name: `pixelate${n}`,
    label: `pixelate ${n}`,
    kind: 'classic' as const,
    what: `mean colour of ${n}×${n} px blocks at the analysis size (blocks from the top-left corner)`,
  })),
  ...[2, 4].map((k) => ({
    name: `downsample${k}`,
    label: `downsample ${k}×`,
    kind: 'classic' as const,
    what: `${k}×${k} area average down to 1/${k} of the analysis size, then bilinear back up`,
  })),
  {
    name: 'highpass',
    label: 'grey high-pass r6',
    kind: 'classic',
    what: 'a classic filter: luma minus its box-blurred self (box radius 6, applied twice), gain 1.2, +128, grey',
  },
  {
    name: 'silhouette',
    label: 'flat grey silhouettes (oracle)',
    kind: 'reference',
    what: "the audit's reference: people as flat grey silhouettes on the static scene (shape and place only)",
  },
  {
    name: 'default-auto',
    label: 'default model, auto size',
    kind: 'model',
    what: "the shipped default model, working size 'auto' as the app resolves it for this room, output size 'working'",
  },
  {
    name: 'default-112',
    label: 'default model, 112 px',
    kind: 'model',
    what: "the shipped default model at working size 112 (the old default), output size 'working'",
  },
  {
    name: 'adapted',
    label: 'room-adapted default, auto size',
    kind: 'model',
    what: "the default model fine-tuned on the fine-tune part (finetune(), default settings), checkpoint selected on the validation part, working size 'auto', output size 'working'",
  },
];
const QUICK_METHODS = ['raw', 'grayscale', 'blur8', 'default-112'];
const methodNames = (arg('--methods') ?? (quick ? QUICK_METHODS : METHODS.map((m) => m.name)).join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const n of methodNames) {
  if (!METHODS.some((m) => m.name === n))
    fail(`--methods: unknown method "${n}" (${METHODS.map((m) => m.name).join(', ')})`);
}
const methods = METHODS.filter((m) => methodNames.includes(m.name));

// Quick runs write into --out (a temp folder by default); a full run into bench/ (or SPACT_BENCH_DIR).
const outDir = path.resolve(
  arg('--out') ?? (quick ? fs.mkdtempSync(path.join(os.tmpdir(), 'spact-bench-real-')) : benchDir),
);
// --cache DIR: where intermediate results live (default <out>/.cache/real); it changes no figure.
const cache = path.resolve(arg('--cache') ?? path.join(outDir, '.cache', 'real'));
const judgesCache = path.join(cache, 'judges');
fs.mkdirSync(cache, { recursive: true });
const threads = Math.min(2, os.availableParallelism());
// --quick proves the pipeline, its figures are noise: the audit's judges see fewer face frames and
// pose crops and its identity attackers train for fewer epochs (a full run: the audit's defaults).
const auditBudget: Pick<VideoAuditOptions, 'faceFrames' | 'maxPoseCrops' | 'classifier'> = quick
  ? { faceFrames: 4, maxPoseCrops: 48, classifier: { epochs: 6 } }
  : {};
const shown = argv.filter((a, i) => a !== '--cache' && argv[i - 1] !== '--cache');
const command = `npm run bench:real${shown.length ? ` -- ${shown.join(' ')}` : ''}`;
const contextStart = machineContext();
log(`footage ${path.relative(process.cwd(), footage)}; results into ${outDir}`);

// ---------------------------------------------------------------- helpers

const sha = (...parts: (string | number)[]) =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
const footageSha = fileSha256(footage).slice(0, 16);
const round3 = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v * 1000) / 1000);
const f2 = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));
const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;

/** A part of the footage as its own file, re-encoded losslessly (x264 qp 0, same pixel format), cut
 *  at exact frame times: decoded, it gives the same frames as the footage's window. */
function extractPart(part: Part, name: string): string {
  const file = path.join(cache, 'parts', `${footageSha}-${name}-${part.start}-${part.end}.mp4`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}.mp4`;
  const r = spawnSync(ffmpegPath(), [
    '-hide_banner',
    '-loglevel',
    'error',
    '-ss',
    String(part.start),
    '-i',
    footage,
    '-t',
    String(part.end - part.start),
    '-map',
    '0:v:0',
    '-an',
    '-c:v',
    'libx264',
    '-qp',
    '0',
    '-preset',
    'veryfast',
    '-pix_fmt',
    'yuv420p',
    '-y',
    tmp,
  ]);
  if (r.status !== 0) fail(`could not extract ${name} part ${part.start}–${part.end} s: ${String(r.stderr).trim()}`);
  fs.renameSync(tmp, file);
  return file;
}

/** Sources of the compiled audit: a change to the audit invalidates the cached reports. */
const auditSource = (() => {
  const dir = fileURLToPath(new URL('../electron/core/privacy-audit/', import.meta.url));
  const h = createHash('sha256');
  for (const f of ['video-audit.js', 'identity.js', 'tracks.js', 'judges.js'])
    h.update(fs.readFileSync(path.join(dir, f)));
  return h.digest('hex').slice(0, 16);
})();

let judgesPromise: Promise<Judges> | null = null;
const judges = () => (judgesPromise ??= Judges.load());

/** The audit of one frame set against a raw analysis; the whole report is cached by content (the
 *  audit also caches its judges' findings in judgesCache). */
async function judge(
  raw: RawAnalysis,
  video: FrameSet,
  name: string,
): Promise<{ report: VideoAuditReport; seconds: number | null; cached: boolean }> {
  const h = createHash('sha256').update(raw.key).update(auditSource);
  if (auditBudget.classifier) h.update(JSON.stringify(auditBudget.classifier));
  for (const f of video.frames) h.update(f);
  const file = path.join(cache, 'reports', `${h.digest('hex').slice(0, 24)}.json`);
  if (!fresh && fs.existsSync(file)) {
    log(`  ${name}: report from the cache`);
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as { report: VideoAuditReport; seconds: number | null };
    return { report: c.report, seconds: c.seconds ?? null, cached: true };
  }
  const since = performance.now();
  const report = await judgeAnonymized(raw, video, await judges(), {
    ...auditBudget,
    cacheDir: judgesCache,
    onProgress: (m) => log(`  ${name}: ${m}`),
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeJsonAtomic(file, { report, seconds: seconds(since) });
  return { report, seconds: seconds(since), cached: false };
}

/** Frames of an anonymized file at the raw analysis size, aligned with the raw window (a shorter
 *  output is padded with black frames, as the audit does). */
async function decodeAligned(file: string, raw: RawAnalysis): Promise<FrameSet> {
  const w = raw.window;
  const anon = await decodeWindow(file, { width: w.width, height: w.height }, w.fps, 0, w.endS - w.startS);
  if (anon.frames.length !== raw.video.frames.length)
    log(`  ${path.basename(file)}: ${anon.frames.length} frames for ${raw.video.frames.length} raw ones (padded/cut)`);
  while (anon.frames.length < raw.video.frames.length) anon.frames.push(new Uint8Array(w.width * w.height * 3));
  anon.frames.length = raw.video.frames.length;
  return anon;
}

/** The extracted part must give the raw window's frames: a one-frame shift would judge every
 *  anonymized video against the wrong people. */
async function checkAlignment(partFile: string, raw: RawAnalysis): Promise<void> {
  const v = await decodeAligned(partFile, raw);
  const mad = (a: Uint8Array, b: Uint8Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i += 7) s += Math.abs(a[i]! - b[i]!);
    return s / Math.ceil(a.length / 7);
  };
  const n = raw.video.frames.length;
  for (const f of [0, n >> 1, n - 1]) {
    const same = mad(v.frames[f]!, raw.video.frames[f]!);
    if (same > 1)
      fail(`${path.basename(partFile)} frame ${f} differs from the raw window's (mean |Δ| ${same.toFixed(2)})`);
  }
}

// ---------------------------------------------------------------- classic filters (in memory)

const mapFrames = (video: FrameSet, fn: (frame: Uint8Array, w: number, h: number) => Uint8Array): FrameSet => ({
  width: video.width,
  height: video.height,
  frames: video.frames.map((f) => fn(f, video.width, video.height)),
});
const clampByte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

function grayscale(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length);
  for (let p = 0; p < frame.length; p += 3) {
    out[p] = out[p + 1] = out[p + 2] = clampByte(0.299 * frame[p]! + 0.587 * frame[p + 1]! + 0.114 * frame[p + 2]!);
  }
  return out;
}

/** Separable convolution of a c-channel float image with a symmetric kernel (weights[0] = centre),
 *  borders replicated. */
function convolve(src: Float32Array, w: number, h: number, c: number, weights: Float32Array): Float32Array {
  const r = weights.length - 1;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let s = weights[0]! * src[(row + x) * c + k]!;
        for (let d = 1; d <= r; d++) {
          const xl = x - d < 0 ? 0 : x - d;
          const xr = x + d >= w ? w - 1 : x + d;
          s += weights[d]! * (src[(row + xl) * c + k]! + src[(row + xr) * c + k]!);
        }
        tmp[(row + x) * c + k] = s;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let s = weights[0]! * tmp[(y * w + x) * c + k]!;
        for (let d = 1; d <= r; d++) {
          const yu = y - d < 0 ? 0 : y - d;
          const yd = y + d >= h ? h - 1 : y + d;
          s += weights[d]! * (tmp[(yu * w + x) * c + k]! + tmp[(yd * w + x) * c + k]!);
        }
        out[(y * w + x) * c + k] = s;
      }
    }
  }
  return out;
}

function gaussianWeights(sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const w = Float64Array.from({ length: r + 1 }, (_, d) => Math.exp(-(d * d) / (2 * sigma * sigma)));
  const total = w.reduce((a, v, d) => a + (d === 0 ? v : 2 * v), 0);
  return Float32Array.from(w, (v) => v / total);
}

function gaussianBlur(frame: Uint8Array, w: number, h: number, sigma: number): Uint8Array {
  const out = convolve(Float32Array.from(frame), w, h, 3, gaussianWeights(sigma));
  return Uint8Array.from(out, clampByte);
}

function pixelate(frame: Uint8Array, w: number, h: number, n: number): Uint8Array {
  const out = new Uint8Array(frame.length);
  for (let by = 0; by < h; by += n) {
    for (let bx = 0; bx < w; bx += n) {
      const y1 = Math.min(h, by + n);
      const x1 = Math.min(w, bx + n);
      const s = [0, 0, 0];
      for (let y = by; y < y1; y++)
        for (let x = bx; x < x1; x++) for (let k = 0; k < 3; k++) s[k]! += frame[(y * w + x) * 3 + k]!;
      const count = (y1 - by) * (x1 - bx);
      for (let y = by; y < y1; y++)
        for (let x = bx; x < x1; x++) for (let k = 0; k < 3; k++) out[(y * w + x) * 3 + k] = clampByte(s[k]! / count);
    }
  }
  return out;
}

function downsample(frame: Uint8Array, w: number, h: number, k: number): Uint8Array {
  const sw = Math.ceil(w / k);
  const sh = Math.ceil(h / k);
  const small = new Float32Array(sw * sh * 3);
  for (let sy = 0; sy < sh; sy++) {
    for (let sx = 0; sx < sw; sx++) {
      let count = 0;
      const s = [0, 0, 0];
      for (let y = sy * k; y < Math.min(h, sy * k + k); y++) {
        for (let x = sx * k; x < Math.min(w, sx * k + k); x++) {
          for (let c = 0; c < 3; c++) s[c]! += frame[(y * w + x) * 3 + c]!;
          count++;
        }
      }
      for (let c = 0; c < 3; c++) small[(sy * sw + sx) * 3 + c] = s[c]! / count;
    }
  }
  // Bilinear back up, pixel centres aligned ((x + 0.5) / k − 0.5), borders clamped.
  const out = new Uint8Array(frame.length);
  for (let y = 0; y < h; y++) {
    const fy = Math.min(sh - 1, Math.max(0, (y + 0.5) / k - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const ay = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(sw - 1, Math.max(0, (x + 0.5) / k - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const ax = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v =
          (small[(y0 * sw + x0) * 3 + c]! * (1 - ax) + small[(y0 * sw + x1) * 3 + c]! * ax) * (1 - ay) +
          (small[(y1 * sw + x0) * 3 + c]! * (1 - ax) + small[(y1 * sw + x1) * 3 + c]! * ax) * ay;
        out[(y * w + x) * 3 + c] = clampByte(v);
      }
    }
  }
  return out;
}

/** Grey high-pass: luma minus its box blur (radius 6, twice), × 1.2, + 128. */
function highpass(frame: Uint8Array, w: number, h: number): Uint8Array {
  const luma = new Float32Array(w * h);
  for (let i = 0; i < luma.length; i++)
    luma[i] = 0.299 * frame[i * 3]! + 0.587 * frame[i * 3 + 1]! + 0.114 * frame[i * 3 + 2]!;
  const box = new Float32Array(7).fill(1 / 13);
  const blurred = convolve(convolve(luma, w, h, 1, box), w, h, 1, box);
  const out = new Uint8Array(frame.length);
  for (let i = 0; i < luma.length; i++)
    out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = clampByte(128 + 1.2 * (luma[i]! - blurred[i]!));
  return out;
}

function classicFrames(name: string, raw: RawAnalysis): FrameSet {
  const v = raw.video;
  if (name === 'raw') return v;
  if (name === 'grayscale') return mapFrames(v, grayscale);
  if (name === 'highpass') return mapFrames(v, highpass);
  if (name === 'silhouette') return raw.silhouette();
  let m = /^blur(\d+)$/.exec(name);
  if (m) return mapFrames(v, (f, w, h) => gaussianBlur(f, w, h, Number(m![1])));
  m = /^pixelate(\d+)$/.exec(name);
  if (m) return mapFrames(v, (f, w, h) => pixelate(f, w, h, Number(m![1])));
  m = /^downsample(\d+)$/.exec(name);
  if (m) return mapFrames(v, (f, w, h) => downsample(f, w, h, Number(m![1])));
  throw new Error(`no filter named ${name}`);
}

// ---------------------------------------------------------------- models

const defaultModel = path.join(defaultModelDir(), 'checkpoint.pt');

/** How tall people are in the room: measured as the app measures a room (CenterNet on ~8 frames of
 *  the room's footage — here the fine-tune part, the footage the operator had before the audit). */
let personHeight: PersonHeightEstimate | null = null;
async function roomPersonHeight(finetunePart: string): Promise<PersonHeightEstimate> {
  if (personHeight) return personHeight;
  const file = path.join(cache, `person-height-${sha(footageSha, parts.finetune.start, parts.finetune.end)}.json`);
  if (!fresh && fs.existsSync(file))
    return (personHeight = JSON.parse(fs.readFileSync(file, 'utf8')) as PersonHeightEstimate);
  personHeight = await estimatePersonHeightFraction([finetunePart], await judges());
  writeJsonAtomic(file, personHeight);
  return personHeight;
}

interface Anonymized {
  file: string;
  model: string;
  modelSha256: string;
  sizeSetting: number | 'auto';
  size: number;
  width: number;
  height: number;
  personHeightFraction: number | null;
  seconds: number;
}

/** A part file anonymized by a model as the product does it (anonymizeFile, output size 'working'). */
async function anonymizePart(
  model: string,
  partFile: string,
  size: number | 'auto',
  fraction: number | null,
): Promise<Anonymized> {
  const modelSha256 = fileSha256(model);
  const key = sha(modelSha256, path.basename(partFile), size, fraction ?? 'none');
  const file = path.join(cache, 'anonymized', `${key}.mp4`);
  const meta = `${file}.json`;
  if (!fresh && fs.existsSync(file) && fs.existsSync(meta))
    return JSON.parse(fs.readFileSync(meta, 'utf8')) as Anonymized;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const since = performance.now();
  const anonymizer = await Anonymizer.load(model, { threads });
  const r = await anonymizeFile(
    anonymizer,
    partFile,
    file,
    { ...DEFAULT_SETTINGS, size, outputSize: 'working' },
    { personHeightFraction: fraction },
  );
  const result: Anonymized = {
    file,
    model,
    modelSha256,
    sizeSetting: size,
    size: r.settings.size,
    width: r.width,
    height: r.height,
    personHeightFraction: r.settings.personHeightFraction,
    seconds: seconds(since),
  };
  writeJsonAtomic(meta, result);
  return result;
}

/** A model's figures on the validation part (what a selection looks at). */
interface ValFigures {
  worstWithRaw: number | null;
  worstAnonymizedOnly: number | null;
  recall: number | null;
  pose: number | null;
}
interface Selection {
  run: string;
  steps: number | null;
  /** Who chose the checkpoint on the validation part: finetune() itself (a fine-tune that selects
   *  its model on held-out footage), or this bench (over the run's snapshots and final checkpoint). */
  by: 'finetune' | 'bench';
  rule: string;
  base: ValFigures | null;
  candidates: { checkpoint: string; minimaxStep: number | null; figures: ValFigures }[];
  /** The model used: the chosen candidate (or the fine-tune's copy of it), relative to the output folder. */
  selected: string;
  /** The chosen candidate among `candidates`. */
  chosen: string | null;
  warnings: string[];
  /** The fine-tune (with its own selection, if any) when it ran, and this step in this run. */
  finetuneSeconds: number | null;
  seconds: number;
}

const GOAL = { withRaw: 0.3, recall: 0.9, pose: 0.8 };
const SELECTION_RULE = `lowest worst identity (max of with-raw and anonymized-only) among the checkpoints with recall ≥ ${GOAL.recall} and pose ≥ ${GOAL.pose} on the validation part; if none keeps both, the one closest to them (highest min(recall/${GOAL.recall}, pose/${GOAL.pose}))`;

/** The compiled fine-tune code (training folder and trainer): a change reruns the fine-tune. */
const finetuneSource = (() => {
  const h = createHash('sha256');
  for (const rel of ['../electron/core/training/', '../native-models/ts/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith('.js') && (rel.includes('training') || f === 'trainer.js' || f === 'config.js'))
        h.update(f).update(fs.readFileSync(path.join(dir, f)));
    }
  }
  return h.digest('hex').slice(0, 16);
})();

/**
 * The room-adapted default: finetune() on the fine-tune part with its default settings and the
 * default model as base. A fine-tune that adapts to a room is also told the room's working size,
 * the judges and the validation part as its held-out footage (options an older finetune() ignores);
 * when it chooses its own model there by the audit's figures, that choice is used, otherwise this
 * bench chooses among the run's snapshots and final checkpoint on the validation part by the same
 * rule. Cached: reused unless --fresh, or the fine-tune code, footage or base model changed.
 */
async function adaptedModel(
  finetunePart: string,
  valPart: string,
  room: { size: number; fraction: number | null },
): Promise<Selection> {
  const since = performance.now();
  const key = sha(
    footageSha,
    parts.finetune.start,
    parts.finetune.end,
    parts.val.start,
    parts.val.end,
    fileSha256(defaultModel),
    finetuneSource,
    finetuneSteps ?? 'default',
    room.size,
  );
  const run = path.join(cache, `finetune-${key}`);
  const ckpt = path.join(run, 'checkpoint.pt');
  const selectionFile = path.join(run, 'selection.json');
  const selectedFile = path.join(run, 'selected.pt');
  const timingFile = path.join(run, 'bench-seconds.json');
  const done = () =>
    fs.existsSync(ckpt) &&
    readCheckpointMeta(ckpt).state.phase === 'done' &&
    (!fs.existsSync(path.join(run, 'room-plan.json')) || fs.existsSync(selectionFile));
  if (fresh) fs.rmSync(run, { recursive: true, force: true });
  if (!done()) {
    const resume = fs.existsSync(ckpt);
    if (!resume) fs.rmSync(run, { recursive: true, force: true });
    log(`${resume ? 'resuming the fine-tune' : 'fine-tuning the default model'} on the fine-tune part (${run})…`);
    let last = 0;
    const options: Record<string, unknown> = {
      footage: [finetunePart],
      base: defaultModelDir(),
      out: run,
      ...(resume ? { resume: true } : {}),
      ...(finetuneSteps !== undefined ? { steps: finetuneSteps } : {}),
      size: room.size,
      selection: { file: valPart, startS: 0, endS: parts.val.end - parts.val.start },
      judges: await judges(),
      cacheDir: judgesCache,
      onStatus: (m: string) => log(`  ${m}`),
      onWarning: (m: string) => log(`  warning: ${m}`),
      onProgress: (p: {
        phase: string;
        step: number;
        minimaxStep: number;
        minimaxSteps: number;
        etaSeconds: number | null;
      }) => {
        if (performance.now() - last < 30_000) return;
        last = performance.now();
        log(
          `  ${p.phase} step ${p.step} (minimax ${p.minimaxStep}/${p.minimaxSteps})${p.etaSeconds ? `, ~${Math.round(p.etaSeconds / 60)} min left` : ''}`,
        );
      },
    };
    const started = performance.now();
    await finetune(options as unknown as Parameters<typeof finetune>[0]);
    writeJsonAtomic(timingFile, { seconds: seconds(started), resumed: resume });
  } else log(`fine-tuned model from the cache (${run})`);
  const finetuneSeconds = fs.existsSync(timingFile)
    ? (JSON.parse(fs.readFileSync(timingFile, 'utf8')) as { seconds: number }).seconds
    : null;
  const meta = readCheckpointMeta(ckpt);

  // The fine-tune chose its model on the validation part itself.
  if (fs.existsSync(selectionFile) && fs.existsSync(selectedFile)) {
    type Figs = Record<string, number | null | undefined>;
    const s = JSON.parse(fs.readFileSync(selectionFile, 'utf8')) as {
      rule?: string;
      base?: Figs;
      candidates?: { checkpoint: string; minimaxStep?: number; audit: Figs }[];
      chosen?: string;
      warnings?: string[];
    };
    const figs = (a: Figs | undefined): ValFigures => ({
      worstWithRaw: round3(a?.worstWithRaw),
      worstAnonymizedOnly: round3(a?.worstAnonymizedOnly),
      recall: round3(a?.personRecall ?? a?.recall),
      pose: round3(a?.poseAgreement ?? a?.pose),
    });
    log(`finetune() chose ${s.chosen ? path.basename(s.chosen) : 'its model'} on the validation part`);
    return {
      run: path.relative(outDir, run),
      steps: meta.state.minimaxStep,
      by: 'finetune',
      rule: s.rule ?? 'finetune()',
      base: s.base ? figs(s.base) : null,
      candidates: (s.candidates ?? []).map((c) => ({
        checkpoint: path.relative(outDir, c.checkpoint),
        minimaxStep: c.minimaxStep ?? null,
        figures: figs(c.audit),
      })),
      selected: path.relative(outDir, selectedFile),
      chosen: s.chosen ? path.relative(outDir, s.chosen) : null,
      warnings: s.warnings ?? [],
      finetuneSeconds,
      seconds: seconds(since),
    };
  }

  // Otherwise this bench chooses, by the same rule, among the snapshots and the final checkpoint.
  const snapshots = fs.existsSync(path.join(run, 'snapshots'))
    ? fs
        .readdirSync(path.join(run, 'snapshots'))
        .filter((f) => /^step-\d+\.pt$/.test(f))
        .sort()
        .map((f) => path.join(run, 'snapshots', f))
    : [];
  const all = [...snapshots.filter((f) => readCheckpointMeta(f).state.minimaxStep !== meta.state.minimaxStep), ckpt];
  log('the raw side of the validation part…');
  const rawVal = await analyzeRaw(footage, await judges(), {
    startS: parts.val.start,
    endS: parts.val.end,
    maxSeconds: parts.val.end - parts.val.start,
    ...auditBudget,
    cacheDir: judgesCache,
    onProgress: (m) => log(`  validation: ${m}`),
  });
  await checkAlignment(valPart, rawVal);
  const judgeOn = async (model: string, name: string): Promise<ValFigures> => {
    const a = await anonymizePart(model, valPart, 'auto', room.fraction);
    const r = summary((await judge(rawVal, await decodeAligned(a.file, rawVal), name)).report);
    return { worstWithRaw: r.worstWithRaw, worstAnonymizedOnly: r.worstAnonymizedOnly, recall: r.recall, pose: r.pose };
  };
  const candidates: Selection['candidates'] = [];
  for (const c of all) {
    candidates.push({
      checkpoint: path.relative(outDir, c),
      minimaxStep: readCheckpointMeta(c).state.minimaxStep,
      figures: await judgeOn(c, `validation ${path.basename(c)}`),
    });
  }
  const base = await judgeOn(defaultModel, 'validation: base model');
  const keeps = (r: ValFigures) => (r.recall ?? 0) >= GOAL.recall && (r.pose ?? 0) >= GOAL.pose;
  const worst = (r: ValFigures) => Math.max(r.worstWithRaw ?? 1, r.worstAnonymizedOnly ?? 1);
  const closeness = (r: ValFigures) => Math.min((r.recall ?? 0) / GOAL.recall, (r.pose ?? 0) / GOAL.pose);
  const eligible = candidates.filter((c) => keeps(c.figures));
  const ranked = eligible.length
    ? [...eligible].sort((x, y) => worst(x.figures) - worst(y.figures) || (y.minimaxStep ?? 0) - (x.minimaxStep ?? 0))
    : [...candidates].sort(
        (x, y) => closeness(y.figures) - closeness(x.figures) || worst(x.figures) - worst(y.figures),
      );
  const selected = ranked[0]!;
  log(`selected ${selected.checkpoint} on the validation part`);
  return {
    run: path.relative(outDir, run),
    steps: meta.state.minimaxStep,
    by: 'bench',
    rule: SELECTION_RULE,
    base,
    candidates,
    selected: selected.checkpoint,
    chosen: selected.checkpoint,
    warnings: [],
    finetuneSeconds,
    seconds: seconds(since),
  };
}

// ---------------------------------------------------------------- report summary

function summary(r: VideoAuditReport) {
  const id = r.identity;
  const worstName = (holds: 'raw' | 'anonymized') =>
    id.attackers.filter((a) => a.holds === holds).sort((a, b) => b.anonymized - a.anonymized)[0]?.id ?? null;
  return {
    worstWithRaw: round3(id.worstWithRaw),
    worstWithRawAttacker: worstName('raw'),
    worstAnonymizedOnly: round3(id.worstAnonymizedOnly),
    worstAnonymizedOnlyAttacker: worstName('anonymized'),
    silhouetteWorstWithRaw: round3(id.silhouetteWorstWithRaw),
    silhouetteWorstAnonymizedOnly: round3(id.silhouetteWorstAnonymizedOnly),
    chance: round3(id.chance),
    recall: round3(r.utility.personRecall),
    pose: round3(r.utility.poseAgreement),
    attackers: id.attackers.map((a) => ({
      id: a.id,
      holds: a.holds,
      anonymized: round3(a.anonymized),
      raw: round3(a.raw),
      silhouette: round3(a.silhouette),
    })),
    faces: { onRaw: r.faces.onRaw, onAnonymized: r.faces.onAnonymized, rank1: round3(r.faces.rank1) },
    verdict: r.verdict,
  };
}
type Summary = ReturnType<typeof summary>;

// ---------------------------------------------------------------- the run

interface Row {
  method: MethodDef;
  workingSize: string;
  summary: Summary;
  report: VideoAuditReport;
  /** Making the frames (filter or anonymizeFile) and judging them; a cached report keeps the
   *  judging time of the run that made it. */
  seconds: { make: number; judge: number | null; judgeCached: boolean };
  anonymized?: Omit<Anonymized, 'file'> & { file: string };
}

const auditPart = extractPart(parts.audit, 'audit');
const needsAuto = methods.some((m) => m.name === 'default-auto' || m.name === 'adapted');
const finetunePart = needsAuto ? extractPart(parts.finetune, 'finetune') : null;
let room: { personHeight: PersonHeightEstimate; size: number } | null = null;
if (finetunePart) {
  const ph = await roomPersonHeight(finetunePart);
  const info = await probeVideo(auditPart);
  room = { personHeight: ph, size: resolveWorkingSize('auto', info, ph.fraction) };
  log(
    `people in the room: 20th-percentile height ${f2(ph.fraction)} of the frame (${ph.persons} boxes on ${ph.frames} frames); auto working size ${room.size}`,
  );
}
let selection: Selection | null = null;
if (methods.some((m) => m.name === 'adapted')) {
  selection = await adaptedModel(finetunePart!, extractPart(parts.val, 'val'), {
    size: room!.size,
    fraction: room!.personHeight.fraction,
  });
}

log('the raw side of the audit part…');
const raw = await analyzeRaw(footage, await judges(), {
  startS: parts.audit.start,
  endS: parts.audit.end,
  maxSeconds: parts.audit.end - parts.audit.start,
  ...auditBudget,
  cacheDir: judgesCache,
  onProgress: (m) => log(`  audit: ${m}`),
});
await checkAlignment(auditPart, raw);
const analysis = `${raw.window.width}×${raw.window.height}`;
log(
  `audit window ${raw.window.startS}–${raw.window.endS} s: ${raw.window.frames} frames at ${analysis}, ${raw.identities} usable tracks`,
);

const rows: Row[] = [];
for (const method of methods) {
  log(`${method.name}…`);
  const since = performance.now();
  let frames: FrameSet;
  let workingSize = `— (filter at ${analysis})`;
  let anonymized: Anonymized | undefined;
  if (method.kind === 'model') {
    const model = method.name === 'adapted' ? path.resolve(outDir, selection!.selected) : defaultModel;
    const size = method.name === 'default-112' ? 112 : 'auto';
    anonymized = await anonymizePart(model, auditPart, size, size === 'auto' ? room!.personHeight.fraction : null);
    workingSize = `${anonymized.width}×${anonymized.height}${size === 'auto' ? ' (auto)' : ''}`;
    frames = await decodeAligned(anonymized.file, raw);
  } else {
    if (method.kind === 'reference') workingSize = `— (reference at ${analysis})`;
    frames = classicFrames(method.name, raw);
  }
  const make = anonymized ? anonymized.seconds : seconds(since);
  const judged = await judge(raw, frames, method.name);
  const report = judged.report;
  const s = summary(report);
  rows.push({
    method,
    workingSize,
    summary: s,
    report,
    seconds: { make, judge: judged.seconds, judgeCached: judged.cached },
    ...(anonymized
      ? {
          anonymized: {
            ...anonymized,
            file: path.relative(outDir, anonymized.file),
            model: path.relative(repoRoot, anonymized.model),
          },
        }
      : {}),
  });
  log(
    `  ${method.name}: with raw ${f2(s.worstWithRaw)}, anonymized only ${f2(s.worstAnonymizedOnly)}, recall ${f2(s.recall)}, pose ${f2(s.pose)}`,
  );
}

// ---------------------------------------------------------------- the classic frontier

type IdKind = 'worstWithRaw' | 'worstAnonymizedOnly';
type UtilKind = 'recall' | 'pose';
const classics = rows.filter((r) => r.method.kind === 'classic');

/** The best classic filter keeping at least `utility` on every named utility: lowest identity. */
function bestClassic(kind: IdKind, utility: Partial<Record<UtilKind, number>>): Row | null {
  let best: Row | null = null;
  for (const c of classics) {
    if (c.summary[kind] === null) continue;
    if (Object.entries(utility).some(([u, v]) => (c.summary[u as UtilKind] ?? -1) < v!)) continue;
    if (!best || c.summary[kind]! < best.summary[kind]!) best = c;
  }
  return best;
}

/** Strictly less identity than every classic filter that keeps at least as much recall and pose.
 *  Null when it cannot be told (no identity figure, or no classic filter in the run). */
function beyond(
  row: Row,
  kind: IdKind,
): { beyond: boolean; bestClassic: string | null; bestClassicValue: number | null } | null {
  const s = row.summary;
  if (s[kind] === null || s.recall === null || s.pose === null || classics.length === 0) return null;
  const best = bestClassic(kind, { recall: s.recall, pose: s.pose });
  return {
    beyond: !best || s[kind]! < best.summary[kind]!,
    bestClassic: best?.method.name ?? null,
    bestClassicValue: best?.summary[kind] ?? null,
  };
}
const beyondOf = new Map(
  rows.map((r) => [
    r,
    { worstWithRaw: beyond(r, 'worstWithRaw'), worstAnonymizedOnly: beyond(r, 'worstAnonymizedOnly') },
  ]),
);
const inGoal = (r: Row) =>
  r.summary.worstWithRaw !== null &&
  r.summary.worstWithRaw <= GOAL.withRaw &&
  (r.summary.recall ?? 0) >= GOAL.recall &&
  (r.summary.pose ?? 0) >= GOAL.pose;

// ---------------------------------------------------------------- plots

const COLOURS: Record<Kind, string> = { classic: '#2471a3', reference: '#7f8c8d', model: '#c0392b' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(
  ox: number,
  oy: number,
  W: number,
  H: number,
  util: UtilKind,
  kind: IdKind,
  title: string,
  xMin: number,
): string {
  const m = { l: 52, r: 48, t: 28, b: 44 };
  const X = (v: number) => ox + m.l + ((v - xMin) / (1 - xMin)) * (W - m.l - m.r);
  const Y = (v: number) => oy + H - m.b - v * (H - m.t - m.b);
  const out: string[] = [];
  const pts = rows.filter((r) => r.summary[kind] !== null && r.summary[util] !== null);
  // Label boxes already taken (fixed labels, points, placed labels).
  const placed: { x0: number; y0: number; x1: number; y1: number }[] = [];
  // Goal region and utility threshold.
  const goalX = util === 'recall' ? GOAL.recall : GOAL.pose;
  if (kind === 'worstWithRaw') {
    out.push(
      `<rect x="${X(goalX).toFixed(1)}" y="${Y(GOAL.withRaw).toFixed(1)}" width="${(X(1) - X(goalX)).toFixed(1)}" height="${(Y(0) - Y(GOAL.withRaw)).toFixed(1)}" fill="#2ecc71" fill-opacity="0.18" stroke="#27ae60" stroke-dasharray="4 3"/>`,
      `<text x="${(X(goalX) + 4).toFixed(1)}" y="${(Y(GOAL.withRaw) + 13).toFixed(1)}" font-size="10" fill="#1e8449">goal</text>`,
    );
    placed.push({ x0: X(goalX) + 4, y0: Y(GOAL.withRaw) + 3, x1: X(goalX) + 28, y1: Y(GOAL.withRaw) + 15 });
  } else {
    out.push(
      `<line x1="${X(goalX).toFixed(1)}" y1="${Y(0)}" x2="${X(goalX).toFixed(1)}" y2="${Y(1)}" stroke="#27ae60" stroke-dasharray="4 3"/>`,
    );
  }
  // Grid and axes.
  for (let v = 0; v <= 1.0001; v += 0.1) {
    out.push(
      `<line x1="${X(xMin)}" y1="${Y(v).toFixed(1)}" x2="${X(1)}" y2="${Y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${X(xMin) - 5}" y="${(Y(v) + 3).toFixed(1)}" font-size="10" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  const xStep = 1 - xMin > 0.5 ? 0.1 : 0.05;
  for (let v = xMin; v <= 1.0001; v += xStep) {
    out.push(
      `<line x1="${X(v).toFixed(1)}" y1="${Y(0)}" x2="${X(v).toFixed(1)}" y2="${Y(1)}" stroke="#f2f2f2"/>`,
      `<text x="${X(v).toFixed(1)}" y="${Y(0) + 14}" font-size="10" text-anchor="middle">${v.toFixed(2)}</text>`,
    );
  }
  out.push(
    `<rect x="${X(xMin)}" y="${Y(1)}" width="${X(1) - X(xMin)}" height="${Y(0) - Y(1)}" fill="none" stroke="#333"/>`,
    `<text x="${ox + W / 2}" y="${oy + 17}" text-anchor="middle" font-size="12" font-weight="bold">${esc(title)}</text>`,
    `<text x="${(X(xMin) + X(1)) / 2}" y="${oy + H - 10}" text-anchor="middle" font-size="11">${util === 'recall' ? 'person recall' : 'pose agreement'} (→ better)</text>`,
    `<text x="${ox + 14}" y="${(Y(0) + Y(1)) / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 ${ox + 14} ${(Y(0) + Y(1)) / 2})">worst identity rank-1 (↓ better)</text>`,
  );
  // Chance.
  const chance = rows[0]?.summary.chance ?? null;
  if (chance !== null) {
    out.push(
      `<line x1="${X(xMin)}" y1="${Y(chance).toFixed(1)}" x2="${X(1)}" y2="${Y(chance).toFixed(1)}" stroke="#555" stroke-dasharray="2 3"/>`,
      `<text x="${X(1) - 4}" y="${(Y(chance) - 3).toFixed(1)}" font-size="10" fill="#555" text-anchor="end">chance ${chance.toFixed(2)}</text>`,
    );
    placed.push({ x0: X(1) - 68, y0: Y(chance) - 13, x1: X(1) - 4, y1: Y(chance) - 1 });
  }
  // The classic frontier: F(x) = lowest identity of a classic filter with utility ≥ x.
  const cls = classics.filter((c) => c.summary[kind] !== null && c.summary[util] !== null);
  if (cls.length) {
    const us = [...new Set(cls.map((c) => c.summary[util]!))].sort((a, b) => a - b);
    const F = (x: number) => Math.min(...cls.filter((c) => c.summary[util]! >= x).map((c) => c.summary[kind]!));
    const line: string[] = [];
    let from = xMin;
    for (const u of us) {
      if (u < xMin) continue;
      const y = F(u);
      line.push(
        `${line.length ? 'L' : 'M'}${X(from).toFixed(1)} ${Y(y).toFixed(1)}`,
        `L${X(u).toFixed(1)} ${Y(y).toFixed(1)}`,
      );
      from = u;
    }
    // Below the frontier (lighter): less identity than any classic filter keeping that utility.
    const last = line.length ? Math.max(...us) : xMin;
    out.push(
      `<path d="${line.join(' ')} L${X(last).toFixed(1)} ${Y(0)} L${X(xMin)} ${Y(0)} Z" fill="${COLOURS.classic}" fill-opacity="0.06" stroke="none"/>`,
      `<path d="${line.join(' ')}" fill="none" stroke="${COLOURS.classic}" stroke-width="2" stroke-opacity="0.55"/>`,
    );
  }
  // Points, then labels placed where they do not collide.
  const dots = pts.map((r) => ({ r, x: X(r.summary[util]!), y: Y(r.summary[kind]!) }));
  for (const d of dots) placed.push({ x0: d.x - 5, y0: d.y - 5, x1: d.x + 5, y1: d.y + 5 });
  for (const d of dots) {
    const colour = COLOURS[d.r.method.kind];
    const b = beyondOf.get(d.r)![kind]?.beyond && d.r.method.kind !== 'classic';
    out.push(
      d.r.method.kind === 'reference'
        ? `<path d="M${d.x.toFixed(1)} ${(d.y - 6).toFixed(1)} l6 6 l-6 6 l-6 -6 z" fill="${colour}"/>`
        : `<circle cx="${d.x.toFixed(1)}" cy="${d.y.toFixed(1)}" r="4.5" fill="${colour}"${b ? ' stroke="#000" stroke-width="2"' : ''}/>`,
    );
  }
  for (const d of dots) {
    const text = d.r.method.name;
    const tw = text.length * 5.6;
    const th = 10;
    const cands: [number, number][] = [];
    for (const dist of [8, 20, 34, 50]) {
      cands.push(
        [dist, -3],
        [-dist - tw, -3],
        [-tw / 2, -dist],
        [-tw / 2, dist + th],
        [dist, -dist],
        [dist, dist + 4],
        [-dist - tw, -dist],
        [-dist - tw, dist + 4],
      );
    }
    let chosen: [number, number] = cands[0]!;
    for (const c of cands) {
      const box = { x0: d.x + c[0], y0: d.y + c[1] - th + 2, x1: d.x + c[0] + tw, y1: d.y + c[1] + 2 };
      const inside = box.x0 >= X(xMin) && box.x1 <= X(1) + m.r - 4 && box.y0 >= Y(1) && box.y1 <= Y(0);
      if (inside && !placed.some((p) => box.x0 < p.x1 && p.x0 < box.x1 && box.y0 < p.y1 && p.y0 < box.y1)) {
        chosen = c;
        break;
      }
    }
    const box = {
      x0: d.x + chosen[0],
      y0: d.y + chosen[1] - th + 2,
      x1: d.x + chosen[0] + tw,
      y1: d.y + chosen[1] + 2,
    };
    placed.push(box);
    const far = Math.hypot(chosen[0] + (chosen[0] < 0 ? tw : 0), chosen[1]) > 14;
    if (far) {
      const lx = Math.min(Math.max(d.x, box.x0), box.x1);
      const ly = Math.min(Math.max(d.y, box.y0), box.y1);
      out.push(
        `<line x1="${d.x.toFixed(1)}" y1="${d.y.toFixed(1)}" x2="${lx.toFixed(1)}" y2="${ly.toFixed(1)}" stroke="#aaa" stroke-width="0.7"/>`,
      );
    }
    out.push(
      `<text x="${box.x0.toFixed(1)}" y="${(d.y + chosen[1]).toFixed(1)}" font-size="10" fill="${COLOURS[d.r.method.kind]}">${esc(text)}</text>`,
    );
  }
  return out.join('\n');
}

function plotSvg(util: UtilKind): string {
  const W = 560;
  const H = 470;
  const vals = rows.map((r) => r.summary[util]).filter((v): v is number => v !== null);
  const xMin = Math.max(0, Math.min(0.5, Math.floor(Math.min(...vals, 1) * 10) / 10 - 0.05));
  const footer = 90;
  const chance = rows[0]?.summary.chance;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + footer}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(0, 0, W, H, util, 'worstWithRaw', 'attackers holding raw pictures of the people', xMin)}
${panel(W, 0, W, H, util, 'worstAnonymizedOnly', 'attackers seeing only anonymized footage', xMin)}
<g font-size="11">
<circle cx="60" cy="${H + 14}" r="4.5" fill="${COLOURS.classic}"/><text x="70" y="${H + 18}">classic filter</text>
<circle cx="170" cy="${H + 14}" r="4.5" fill="${COLOURS.model}"/><text x="180" y="${H + 18}">learned anonymizer (black ring: beyond the classic frontier on recall and pose)</text>
<path d="M60 ${H + 28} l6 6 l-6 6 l-6 -6 z" fill="${COLOURS.reference}"/><text x="70" y="${H + 38}">silhouette oracle (reference, not a classic filter)</text>
<line x1="380" y1="${H + 34}" x2="410" y2="${H + 34}" stroke="${COLOURS.classic}" stroke-width="2" stroke-opacity="0.55"/><text x="416" y="${H + 38}">classic frontier (lowest identity of a classic filter with at least that ${util === 'recall' ? 'recall' : 'pose agreement'})</text>
<rect x="54" y="${H + 48}" width="14" height="10" fill="#2ecc71" fill-opacity="0.18" stroke="#27ae60" stroke-dasharray="4 3"/><text x="74" y="${H + 57}">goal: with raw ≤ ${GOAL.withRaw}, recall ≥ ${GOAL.recall}, pose ≥ ${GOAL.pose} (right panel: its ${util === 'recall' ? 'recall' : 'pose'} threshold only)${chance ? ` · dotted: chance (1/${Math.round(1 / chance)} tracks)` : ''} · shaded blue: below the frontier</text>
<text x="60" y="${H + 78}" fill="#555">${esc(`${path.basename(footage)}, audit part ${parts.audit.start}–${parts.audit.end} s; each method judged by the same video privacy audit`)}</text>
</g>
</svg>
`;
}

// ---------------------------------------------------------------- writing

const ctxEnd = machineContext();
const wall = seconds(t0);
const rawWindow = raw.window;
const anyRow = rows[0]!;
const tracks = anyRow.report.tracks;
const yesNo = (b: { beyond: boolean } | null) => (b === null ? '–' : b.beyond ? 'yes' : 'no');
const beyondCell = (r: Row) => {
  if (r.method.kind === 'classic') return '— (classic)';
  const b = beyondOf.get(r)!;
  const cell = `with raw: ${yesNo(b.worstWithRaw)} · anon. only: ${yesNo(b.worstAnonymizedOnly)}`;
  return r.method.kind === 'reference' ? `${cell} (reference)` : cell;
};
const attackerCell = (v: number | null, who: string | null) =>
  v === null ? '–' : `${v.toFixed(2)}${who ? ` (${who})` : ''}`;
const table = mdTable(
  [
    'method',
    'working size',
    'worst attacker with raw pictures ↓',
    'worst attacker on anonymized footage only ↓',
    'person recall ↑',
    'pose agreement ↑',
    'beyond the classic frontier?',
  ],
  rows.map((r) => [
    `${inGoal(r) ? '**' : ''}${r.method.label}${inGoal(r) ? '**' : ''} (\`${r.method.name}\`)`,
    r.workingSize,
    attackerCell(r.summary.worstWithRaw, r.summary.worstWithRawAttacker),
    attackerCell(r.summary.worstAnonymizedOnly, r.summary.worstAnonymizedOnlyAttacker),
    f2(r.summary.recall),
    f2(r.summary.pose),
    beyondCell(r),
  ]),
);

// The reading: only what follows from the numbers (which points are beyond the frontier, and
// which are in the goal region).
function reading(): string {
  const nonClassic = rows.filter((r) => r.method.kind !== 'classic');
  const lines: string[] = [];
  for (const [kind, what] of [
    ['worstWithRaw', 'attackers holding raw pictures'],
    ['worstAnonymizedOnly', 'attackers seeing only anonymized footage'],
  ] as const) {
    const b = nonClassic.filter((r) => beyondOf.get(r)![kind]?.beyond);
    const nb = nonClassic.filter((r) => beyondOf.get(r)![kind] && !beyondOf.get(r)![kind]!.beyond);
    const f3 = (v: number | null) => (v === null ? '–' : v.toFixed(3));
    const vs = (r: Row) => {
      const x = beyondOf.get(r)![kind]!;
      const v = r.summary[kind]!;
      const against =
        x.bestClassic && x.bestClassicValue !== null
          ? ` vs \`${x.bestClassic}\` ${f3(x.bestClassicValue)} (${v - x.bestClassicValue >= 0 ? '+' : '−'}${Math.abs(v - x.bestClassicValue).toFixed(3)})`
          : ' (no classic filter keeps its utility)';
      const low = (r.summary.recall ?? 0) < GOAL.recall || (r.summary.pose ?? 0) < GOAL.pose;
      return `\`${r.method.name}\` ${f3(v)}${against}${low ? ` at recall ${f2(r.summary.recall)}, pose ${f2(r.summary.pose)} (below the utility goal)` : ''}`;
    };
    lines.push(
      `Against ${what}: beyond the classic frontier — ${b.length ? b.map(vs).join('; ') : 'none'}; not beyond — ${nb.length ? nb.map(vs).join('; ') : 'none'} (each against the best classic filter keeping at least its recall and pose).`,
    );
  }
  const goal = rows.filter(inGoal);
  lines.push(
    `In the goal region (with raw ≤ ${GOAL.withRaw}, recall ≥ ${GOAL.recall}, pose ≥ ${GOAL.pose}): ${goal.length ? goal.map((r) => `\`${r.method.name}\``).join(', ') : 'no method'}.`,
  );
  return lines.join('\n\n');
}

const figureCells = (v: ValFigures) => [f2(v.worstWithRaw), f2(v.worstAnonymizedOnly), f2(v.recall), f2(v.pose)];
const ctxLine = (c: Record<string, string | number>) =>
  Object.entries(c)
    .filter(([k]) => k !== 'loadavg' && k !== 'date')
    .map(([k, v]) => `${k}: ${v}`)
    .join(' · ');
const selectionText = selection
  ? `\nRoom-adapted model: \`finetune()\` with its default settings and \`base: default\` on the fine-tune part (${selection.steps} minimax steps, working size ${room?.size ?? '–'}${selection.finetuneSeconds ? `, ${Math.round(selection.finetuneSeconds / 60)} min with its selection` : ''}); checkpoint chosen on the validation part by ${selection.by === 'finetune' ? '`finetune()` itself (its held-out footage = the validation part)' : 'this bench'}: ${selection.rule}.${selection.warnings.length ? ` Warnings: ${selection.warnings.join('; ')}.` : ''}\n\n${mdTable(
      ['validation part', 'with raw ↓', 'anon. only ↓', 'recall ↑', 'pose ↑'],
      [
        ...(selection.base ? [['base (default model)', ...figureCells(selection.base)]] : []),
        ...selection.candidates.map((c) => [
          c.checkpoint === selection!.chosen
            ? `**minimax step ${c.minimaxStep}** (chosen)`
            : `minimax step ${c.minimaxStep}`,
          ...figureCells(c.figures),
        ]),
      ],
    )}\n`
  : '';
const rel = (f: string) => path.relative(repoRoot, f) || f;
const cachedRows = rows.filter((r) => r.seconds.judgeCached).length;
const cachedNote = cachedRows ? ` (${cachedRows} of ${rows.length} reports from the cache of an earlier run)` : '';
const md = `## Real footage: learned anonymizer vs classic filters (\`${command}\`)

date: ${contextStart.date} · load average at start ${contextStart.loadavg}, at end ${ctxEnd.loadavg} · ${ctxLine(contextStart)} · wall time ${Math.round(wall / 60)} min${cachedNote}

Footage \`${rel(footage)}\` (${analysis}, judged at ${rawWindow.fps} fps). Splits: fine-tune part ${parts.finetune.start}–${parts.finetune.end} s,
validation part ${parts.val.start}–${parts.val.end} s (selects fine-tune checkpoints), audit part ${rawWindow.startS}–${rawWindow.endS} s (${rawWindow.frames} frames:
this table only). Every method is judged by the same video privacy audit on the audit part: ${tracks.total} person tracks, ${tracks.usable} usable
(${tracks.galleryCrops} gallery / ${tracks.probeCrops} probe crops), chance ${f2(anyRow.summary.chance)}; grey silhouettes (shape and place only) score
${f2(anyRow.summary.silhouetteWorstWithRaw)} with raw pictures and ${f2(anyRow.summary.silhouetteWorstAnonymizedOnly)} on anonymized footage only. Identity: worst whole-body
rank-1 over the attackers of each kind (in brackets); person recall: CenterNet finds the raw people again
(IoU ≥ 0.5); pose agreement: MoveNet keypoints within 10% of the person's height. Classic filters run on
the analysis frames; models anonymize the audit part extracted to a file (\`anonymizeFile\`, output size
'working'), decoded back at ${analysis}.${room ? ` Auto working size: people's 20th-percentile height measured on the fine-tune part (${f2(room.personHeight.fraction)} of the frame, ${room.personHeight.persons} boxes) → ${room.size} px short side.` : ''}${Object.keys(auditBudget).length ? ` Audit budget of this run (CI-sized): ${JSON.stringify(auditBudget)}; otherwise the audit's defaults.` : ''}

${table}

Bold: in the goal region (with raw ≤ ${GOAL.withRaw}, recall ≥ ${GOAL.recall}, pose ≥ ${GOAL.pose}). "Beyond the classic frontier": strictly less identity
than every classic filter (${classics.map((c) => `\`${c.method.name}\``).join(', ') || 'none in this run'}) that keeps at least as much recall and pose;
the silhouette oracle is a reference, not a classic filter. Plots: [\`results/real-recall.svg\`](results/real-recall.svg)
(identity vs person recall) and [\`results/real-pose.svg\`](results/real-pose.svg) (identity vs pose agreement).
${selectionText}
${reading()}
`;

const json = {
  command,
  context: { start: contextStart, end: ctxEnd },
  wallSeconds: wall,
  footage: rel(footage),
  footageSha256: footageSha,
  parts,
  audit: auditBudget,
  window: rawWindow,
  tracks,
  chance: anyRow.summary.chance,
  goal: GOAL,
  room,
  selection,
  methods: rows.map((r) => ({
    name: r.method.name,
    label: r.method.label,
    kind: r.method.kind,
    what: r.method.what,
    workingSize: r.workingSize,
    anonymized: r.anonymized ?? null,
    seconds: r.seconds,
    inGoal: inGoal(r),
    beyondClassicFrontier: r.method.kind === 'classic' ? null : beyondOf.get(r),
    summary: r.summary,
    report: {
      window: r.report.window,
      tracks: r.report.tracks,
      identity: r.report.identity,
      utility: r.report.utility,
      faces: { ...r.report.faces },
      verdict: r.report.verdict,
    },
  })),
};

const resultsDir = path.join(outDir, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
writeJsonAtomic(path.join(resultsDir, 'real.json'), json);
writeAtomic(path.join(resultsDir, 'real-recall.svg'), plotSvg('recall'));
writeAtomic(path.join(resultsDir, 'real-pose.svg'), plotSvg('pose'));
const resultsFile = path.join(outDir, 'RESULTS.md');
const start = '<!-- real:start -->';
const end = '<!-- real:end -->';
let text = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '# Benchmark results\n';
const block = `${start}\n${md.trim()}\n${end}`;
const i = text.indexOf(start);
const j = text.indexOf(end);
text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
writeAtomic(resultsFile, text);
log(`done in ${Math.round(wall)} s: ${rel(resultsFile)}, ${rel(resultsDir)}/real.json, real-recall.svg, real-pose.svg`);
process.exit(0);
