// The privacy audit of an anonymized video against its raw source, on a window of consecutive
// frames: independent pretrained judges find the people on the raw frames (CenterNet), a tracker
// turns them into identities, and then
//   identity — whole-body attackers (identity.ts) holding raw pictures of the people or only the
//              anonymized footage, each also run on the raw footage (its ceiling) and on flat grey
//              silhouettes of the people (shape and place only: the reference for "nothing beyond
//              shape leaks"); face re-identification by two face judges, identities from tracks;
//   utility  — person recall (CenterNet on the anonymized frames, IoU ≥ 0.5 with a raw person)
//              and per-person pose agreement (MoveNet on each person's crop, raw vs anonymized).
// The raw side (decode, detections, tracks, raw poses, raw-trained attackers) is computed once and
// can be cached on disk, so many anonymizations of one clip are judged at the cost of their own.
import { fileSha256 } from '../../../native-models/ts/checkpoint.js';
import { vaultGoverning } from '../vault/vault.js';
import { rawCachePrefix } from './cache-names.js';
import { mediaInput } from '../vault/raw-feed.js';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { SpactError } from '../errors.js';
import { ffmpegPath, ffmpegReason } from '../media/ffmpeg.js';
import { decodeFrames, probeVideo } from '../media/video.js';
import {
  appearanceRank1,
  backgroundMedian,
  classifierRank1,
  CROP_H,
  CROP_W,
  cropMask,
  cropPixels,
  foregroundMask,
  normalizedGrey,
  personSamples,
  robustVariants,
  silhouetteFrame,
  trainClassifier,
  DEFAULT_CLASSIFIER_BUDGET,
  type ClassifierBudget,
  type FrameSet,
  type PersonSample,
} from './identity.js';
import type { BodyFinding, Box, FaceFinding, Judges } from './judges.js';
import { buildTracks, iou, type Detection, type Track } from './tracks.js';

export interface AuditWindow {
  /** Seconds into the video where the judged window starts (default 0). */
  startS?: number;
  /** Where it ends (default: the end of the video, at most `maxSeconds` after the start). */
  endS?: number | null;
}

export interface VideoAuditOptions extends AuditWindow {
  /** Frames per second judged (tracking wants consecutive frames; default min(source, 10)). */
  fps?: number;
  /** Width the judges see (default: the source's, at most 960). */
  maxWidth?: number;
  /** Longest window judged, seconds (default 30): bounds memory and time. */
  maxSeconds?: number;
  /** Frames spread over the window given to the face judges (default 12; 0 = no face audit). */
  faceFrames?: number;
  /** Person crops judged for pose, at most (default 240). */
  maxPoseCrops?: number;
  classifier?: Partial<ClassifierBudget>;
  /** Folder for cached judge results (raw and anonymized, keyed by content hash). */
  cacheDir?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

/** One identity attacker's rank-1 on the anonymized video, the raw video (its ceiling) and the
 *  silhouette rendering (the shape-only reference). */
export interface AttackerScore {
  id: 'appearance-reid' | 'cnn-raw' | 'colour-raw' | 'linkage' | 'cnn-anonymized' | 'colour-anonymized';
  /** What the attacker holds: raw pictures of the people, or only the anonymized footage. */
  holds: 'raw' | 'anonymized';
  label: string;
  anonymized: number;
  raw: number;
  silhouette: number;
}

export interface FaceReid {
  judge: 'human' | 'face-api';
  /** Tracks with a face on raw frames (the identities of this judge). */
  identities: number;
  rank1: number;
  rank1RawVsRaw: number;
  chance: number;
}

export interface VideoAuditReport {
  window: { startS: number; endS: number; frames: number; fps: number; width: number; height: number };
  tracks: { total: number; usable: number; galleryCrops: number; probeCrops: number };
  identity: {
    /** 1 / usable tracks: what guessing scores (null when fewer than 2 people can be told apart). */
    chance: number | null;
    attackers: AttackerScore[];
    /** Worst case (highest rank-1) over attackers holding raw pictures / only anonymized footage. */
    worstWithRaw: number | null;
    worstAnonymizedOnly: number | null;
    worst: number | null;
    silhouetteWorstWithRaw: number | null;
    silhouetteWorstAnonymizedOnly: number | null;
  };
  utility: {
    personsOnRaw: number;
    personRecall: number | null;
    keypointsOnRaw: number;
    poseAgreement: number | null;
  };
  faces: {
    framesJudged: number;
    onRaw: number;
    onAnonymized: number;
    reid: FaceReid[];
    /** Worst judge; null when no face identity was found on raw frames. */
    rank1: number | null;
    genderAgreement: number | null;
  };
  /** Plain-words reading of the figures (for the CLI and the app). */
  verdict: AuditVerdict;
}

export interface AuditVerdict {
  identity: 'inconclusive' | 'identifiable' | 'beyond-shape' | 'shape-only';
  utility: 'inconclusive' | 'people-lost' | 'people-kept';
  summary: string;
}

// ---------------------------------------------------------------- decoding

/** The judged frames: the window of a video at the analysis size and rate, in memory. */
export async function decodeWindow(
  file: string,
  size: { width: number; height: number },
  fps: number,
  startS: number,
  endS: number,
  signal?: AbortSignal,
): Promise<FrameSet> {
  const first = Math.round(startS * fps);
  const last = Math.round(endS * fps); // exclusive
  const frameBytes = size.width * size.height * 3;
  const frames: Uint8Array[] = [];
  let index = 0;
  for await (const batch of decodeFrames(file, { ...size, fps, batch: 16 })) {
    if (signal?.aborted) throw new SpactError('cancelled', 'the audit was cancelled');
    for (let k = 0; k < batch.n; k++, index++) {
      if (index >= first && index < last) frames.push(batch.frames.slice(k * frameBytes, (k + 1) * frameBytes));
    }
    if (index >= last) break;
  }
  // A still image has no duration: the fps filter gives no frame of it, so its one frame is
  // decoded as it is.
  if (frames.length === 0 && first === 0) {
    const still = await decodeStill(file, size);
    if (still) frames.push(still);
  }
  if (frames.length === 0) throw new SpactError('bad-input', `${file}: no frame in the judged window`);
  return { ...size, frames };
}

/** The first frame of a file at `size` (RGB), or null when there is none. */
async function decodeStill(file: string, size: { width: number; height: number }): Promise<Uint8Array | null> {
  const src = await mediaInput(file); // sealed raw footage: through the loopback feed
  const args = ['-hide_banner', '-loglevel', 'error', '-i', src.input, '-map', '0:v:0', '-frames:v', '1'];
  args.push('-vf', `scale=${size.width}:${size.height}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return new Promise<Uint8Array | null>((resolve, reject) => {
    execFile(ffmpegPath(), args, { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (err) return reject(new SpactError('bad-input', `${file}: decoding failed (${ffmpegReason(String(stderr))})`));
      const bytes = size.width * size.height * 3;
      resolve(stdout.length >= bytes ? new Uint8Array(stdout.subarray(0, bytes)) : null);
    });
  }).finally(() => src.release());
}

// ---------------------------------------------------------------- the raw side

export interface RawAnalysis {
  file: string;
  key: string;
  window: VideoAuditReport['window'];
  video: FrameSet;
  background: Uint8Array;
  detections: Detection[][];
  tracks: Track[];
  samples: PersonSample[];
  identities: number;
  rawCrops: Uint8Array[];
  /** Raw keypoints of the pose-judged person crops. */
  poses: { frame: number; box: Box; body: BodyFinding | null }[];
  faceFrames: number[];
  rawFaces: FaceFinding[][];
  foreground(frame: number): Uint8Array;
  silhouette(): FrameSet;
  rawAttackers: Map<string, (crops: Uint8Array[]) => Promise<Float32Array[]>>;
  /** The attackers on the raw video itself (their ceiling) and on silhouettes, once computed. */
  reference?: { raw: Record<AttackerScore['id'], number>; silhouette: Record<AttackerScore['id'], number> } | null;
}

/** Cached findings, sealed with the vault of the data folder they live in (faces carry
 *  embeddings, age and gender: personal data, never at rest in the clear). */
function readCache<T>(dir: string | undefined, key: string): T | null {
  if (!dir) return null;
  try {
    const text = fs.readFileSync(path.join(dir, `${key}.json`), 'utf8');
    const vault = vaultGoverning(dir);
    return JSON.parse(vault ? vault.openText(text) : text) as T;
  } catch {
    return null;
  }
}

function writeCache(dir: string | undefined, key: string, value: unknown): void {
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${key}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  const vault = vaultGoverning(dir);
  fs.writeFileSync(tmp, vault ? vault.sealText(JSON.stringify(value)) : JSON.stringify(value));
  fs.renameSync(tmp, file);
}

/** Where a person's pose is judged: a square around the box, a little larger than it. */
function poseCrop(
  frame: Uint8Array,
  width: number,
  height: number,
  box: Box,
): { rgb: Uint8Array; side: number; x0: number; y0: number } {
  const cx = (box.x + box.w / 2) * width;
  const cy = (box.y + box.h / 2) * height;
  const side = Math.max(16, Math.round(1.2 * Math.max(box.w * width, box.h * height)));
  const x0 = Math.round(cx - side / 2);
  const y0 = Math.round(cy - side / 2);
  const rgb = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const sy = Math.min(height - 1, Math.max(0, y0 + y));
    for (let x = 0; x < side; x++) {
      const sx = Math.min(width - 1, Math.max(0, x0 + x));
      const s = (sy * width + sx) * 3;
      const o = (y * side + x) * 3;
      rgb[o] = frame[s]!;
      rgb[o + 1] = frame[s + 1]!;
      rgb[o + 2] = frame[s + 2]!;
    }
  }
  return { rgb, side, x0, y0 };
}

/** Face findings assigned to tracks: a face belongs to the tracked person whose box holds its centre. */
function faceTrack(face: FaceFinding, frame: number, tracks: Track[]): number {
  const fx = face.box.x + face.box.w / 2;
  const fy = face.box.y + face.box.h / 2;
  let best = -1;
  let bestArea = Infinity;
  for (const t of tracks) {
    const p = t.points.find((q) => q.frame === frame);
    if (!p) continue;
    const b = p.box;
    if (fx >= b.x && fx <= b.x + b.w && fy >= b.y && fy <= b.y + b.h && b.w * b.h < bestArea) {
      best = t.id;
      bestArea = b.w * b.h;
    }
  }
  return best;
}

export async function analyzeRaw(file: string, judges: Judges, opts: VideoAuditOptions = {}): Promise<RawAnalysis> {
  const info = await probeVideo(file);
  const maxWidth = opts.maxWidth ?? 960;
  const width = Math.max(2, 2 * Math.round(Math.min(info.width, maxWidth) / 2));
  const height = Math.max(2, 2 * Math.round((info.height * width) / info.width / 2));
  const still = !(info.durationS > 0.1) || info.frames === 1;
  const fps = still ? 1 : (opts.fps ?? Math.min(10, Math.max(1, Math.round(info.fps))));
  const startS = Math.max(0, opts.startS ?? 0);
  const duration = still ? 1 : info.durationS;
  const endS = still ? 1 : Math.min(duration, opts.endS ?? duration, startS + (opts.maxSeconds ?? 30));
  if (!(endS > startS)) throw new SpactError('validation', `the judged window ${startS}–${endS} s is empty`);
  const progress = opts.onProgress ?? (() => undefined);
  progress('decoding the raw window…');
  const video = await decodeWindow(file, { width, height }, fps, still ? 0 : startS, endS, opts.signal);
  const faceCount = Math.min(video.frames.length, opts.faceFrames ?? 12);
  const faceFrames = Array.from({ length: faceCount }, (_, i) =>
    Math.round(((i + 0.5) * video.frames.length) / faceCount - 0.5),
  );
  const key = createHash('sha256')
    .update(
      JSON.stringify([fileSha256(file), width, height, fps, startS, endS, faceFrames, opts.maxPoseCrops ?? 240, 'v1']),
    )
    .digest('hex')
    .slice(0, 24);

  type Cached = {
    detections: Detection[][];
    poses: RawAnalysis['poses'];
    rawFaces: FaceFinding[][];
  };
  let cached = readCache<Cached>(opts.cacheDir, `${rawCachePrefix(file)}${key}`);
  const background = backgroundMedian(video);
  const fgCache = new Map<number, Uint8Array>();
  const foreground = (f: number) => {
    let m = fgCache.get(f);
    if (!m) fgCache.set(f, (m = foregroundMask(video.frames[f]!, background, width, height)));
    return m;
  };
  let detections: Detection[][];
  if (cached) detections = cached.detections;
  else {
    detections = [];
    for (let f = 0; f < video.frames.length; f++) {
      if (opts.signal?.aborted) throw new SpactError('cancelled', 'the audit was cancelled');
      if (f % 20 === 0) progress(`finding people on raw frame ${f + 1}/${video.frames.length}…`);
      detections.push(await judges.persons(video.frames[f]!, width, height));
    }
  }
  const tracks = buildTracks(detections);
  const { samples, tracks: identities } = personSamples(tracks, foreground, width, height);
  const rawCrops = samples.map((s) => cropPixels(video.frames[s.spec.frame]!, width, height, s.spec));
  let poses: RawAnalysis['poses'];
  let rawFaces: FaceFinding[][];
  if (cached) {
    poses = cached.poses;
    rawFaces = cached.rawFaces;
  } else {
    const points = tracks.flatMap((t) => t.points.filter((p) => !p.occluded && p.box.h * height >= 24));
    const step = Math.max(1, Math.ceil(points.length / (opts.maxPoseCrops ?? 240)));
    poses = [];
    progress(`judging the pose of ${Math.ceil(points.length / step)} raw person crops…`);
    for (let i = 0; i < points.length; i += step) {
      const p = points[i]!;
      const c = poseCrop(video.frames[p.frame]!, width, height, p.box);
      poses.push({ frame: p.frame, box: p.box, body: await judges.pose(c.rgb, c.side, c.side) });
    }
    rawFaces = [];
    for (const f of faceFrames) {
      progress('looking for faces on raw frames…');
      rawFaces.push((await judges.analyze(video.frames[f]!, width, height)).faces);
    }
    cached = { detections, poses, rawFaces };
    writeCache(opts.cacheDir, `${rawCachePrefix(file)}${key}`, cached);
  }
  let silhouette: FrameSet | null = null;
  return {
    file,
    key,
    window: { startS: still ? 0 : startS, endS, frames: video.frames.length, fps, width, height },
    video,
    background,
    detections,
    tracks,
    samples,
    identities,
    rawCrops,
    poses,
    faceFrames,
    rawFaces,
    foreground,
    silhouette() {
      silhouette ??= {
        width,
        height,
        frames: video.frames.map((_, f) =>
          silhouetteFrame(
            background,
            foreground(f),
            detections[f]!.filter((d) => d.score >= 0.3).map((d) => d.box),
            width,
            height,
          ),
        ),
      };
      return silhouette;
    },
    rawAttackers: new Map(),
  };
}

// ---------------------------------------------------------------- judging one video

const LABELS: Record<AttackerScore['id'], string> = {
  'appearance-reid': 'whole-body appearance matched to raw pictures',
  'cnn-raw': 'a classifier trained on raw pictures of the people (their shapes and shades, in grey)',
  'colour-raw': 'a clothing-colour classifier trained on raw pictures',
  linkage: 'whole-body appearance linked within the anonymized footage',
  'cnn-anonymized': 'a classifier trained on anonymized footage of the people',
  'colour-anonymized': 'a clothing-colour classifier trained on anonymized footage',
};

/** Foreground of a video against its own static background (median), per frame on demand. */
function ownForeground(video: FrameSet): (frame: number) => Uint8Array {
  const background = backgroundMedian(video);
  const cache = new Map<number, Uint8Array>();
  return (f) => {
    let m = cache.get(f);
    if (!m) cache.set(f, (m = foregroundMask(video.frames[f]!, background, video.width, video.height)));
    return m;
  };
}

/** Every identity attacker's rank-1 with `video` as the anonymized footage. */
export async function identityScores(
  raw: RawAnalysis,
  video: FrameSet,
  budget: Partial<ClassifierBudget> = {},
): Promise<Record<AttackerScore['id'], number> | null> {
  const k = raw.identities;
  if (k < 2) return null;
  const b = { ...DEFAULT_CLASSIFIER_BUDGET, ...budget };
  // Each video is masked by its own static background: the attacker of the anonymized footage
  // sees a person where the anonymized video shows one (nothing of a black video), never where
  // the raw one did.
  const own = video === raw.video ? null : ownForeground(video);
  const masks = own ? raw.samples.map((s) => cropMask(s.spec, own(s.spec.frame), video.width, video.height)) : null;
  const crops = masks
    ? raw.samples.map((s, i) =>
        cropPixels(video.frames[s.spec.frame]!, video.width, video.height, { ...s.spec, mask: masks[i]! }),
      )
    : raw.rawCrops;
  const item = (i: number, from: Uint8Array[]) => ({
    track: raw.samples[i]!.track,
    crop: from[i]!,
    mask: from === raw.rawCrops || !masks ? raw.samples[i]!.spec.mask : masks[i]!,
  });
  const idx = (role: PersonSample['role']) => raw.samples.flatMap((s, i) => (s.role === role ? [i] : []));
  const galleryRaw = idx('gallery').map((i) => item(i, raw.rawCrops));
  const galleryAnon = idx('gallery').map((i) => item(i, crops));
  const probes = idx('probe').map((i) => item(i, crops));

  const rawAttacker = async (kind: 'cnn' | 'colour-mlp') => {
    let a = raw.rawAttackers.get(kind);
    if (!a) {
      // An attacker with photos trains for what anonymizers do: greyscale, blur, exposure. The CNN
      // compares standardised greyscale (colour remaps and exposure changes cannot fool it), the
      // colour MLP the colours themselves.
      const augmented = galleryRaw.flatMap((g, i) =>
        [g.crop, ...robustVariants(g.crop, g.mask, b.seed + i)].map((crop) => ({
          ...g,
          crop: kind === 'cnn' ? normalizedGrey(crop, g.mask) : crop,
        })),
      );
      a = await trainClassifier(kind, augmented, k, { ...b, epochs: Math.max(1, Math.round(b.epochs / 2)) });
      raw.rawAttackers.set(kind, a);
    }
    return a;
  };
  const greyProbes = probes.map((p) => ({ ...p, crop: normalizedGrey(p.crop, p.mask) }));
  return {
    'appearance-reid': appearanceRank1(galleryRaw, probes, k),
    'cnn-raw': await classifierRank1(await rawAttacker('cnn'), greyProbes, k),
    'colour-raw': await classifierRank1(await rawAttacker('colour-mlp'), probes, k),
    linkage: appearanceRank1(galleryAnon, probes, k),
    'cnn-anonymized': await classifierRank1(await trainClassifier('cnn', galleryAnon, k, b), probes, k),
    'colour-anonymized': await classifierRank1(await trainClassifier('colour-mlp', galleryAnon, k, b), probes, k),
  };
}

export interface UtilityJudgement {
  detections: Detection[][];
  poses: (BodyFinding | null)[];
  faces: FaceFinding[][];
}

/** The judges on `video` at the raw window's people (cached by the video's content). */
export async function judgeUtility(
  raw: RawAnalysis,
  video: FrameSet,
  judges: Judges,
  opts: Pick<VideoAuditOptions, 'cacheDir' | 'signal' | 'onProgress'> = {},
): Promise<UtilityJudgement> {
  const h = createHash('sha256').update(raw.key);
  for (const f of video.frames) h.update(f);
  const key = `anon-${h.digest('hex').slice(0, 24)}`;
  const cached = readCache<UtilityJudgement>(opts.cacheDir, key);
  if (cached) return cached;
  const { width, height } = video;
  const detections: Detection[][] = [];
  for (let f = 0; f < video.frames.length; f++) {
    if (opts.signal?.aborted) throw new SpactError('cancelled', 'the audit was cancelled');
    if (f % 20 === 0) opts.onProgress?.(`finding people on anonymized frame ${f + 1}/${video.frames.length}…`);
    detections.push(await judges.persons(video.frames[f]!, width, height));
  }
  opts.onProgress?.('judging poses on anonymized person crops…');
  const poses: (BodyFinding | null)[] = [];
  for (const p of raw.poses) {
    if (opts.signal?.aborted) throw new SpactError('cancelled', 'the audit was cancelled');
    const c = poseCrop(video.frames[p.frame]!, width, height, p.box);
    poses.push(await judges.pose(c.rgb, c.side, c.side));
  }
  const faces: FaceFinding[][] = [];
  for (const f of raw.faceFrames) faces.push((await judges.analyze(video.frames[f]!, width, height)).faces);
  const result = { detections, poses, faces };
  writeCache(opts.cacheDir, key, result);
  return result;
}

/** Person recall: raw people (score ≥ 0.4) found again on the anonymized frame (score ≥ 0.4) at
 *  IoU ≥ 0.5, one to one. */
export function personRecall(raw: RawAnalysis, judged: UtilityJudgement): { persons: number; recall: number | null } {
  // The same confidence on both sides, and one anonymized person answers for one raw person only
  // (greedy by IoU): a person whose detector confidence collapses, or two people merged into one
  // box, are not "still found".
  const MIN_SCORE = 0.4;
  let persons = 0;
  let found = 0;
  raw.detections.forEach((dets, f) => {
    const rawPeople = dets.filter((d) => d.score >= MIN_SCORE);
    const anonPeople = judged.detections[f]!.filter((q) => q.score >= MIN_SCORE);
    persons += rawPeople.length;
    const pairs: { r: number; a: number; v: number }[] = [];
    rawPeople.forEach((d, r) =>
      anonPeople.forEach((q, a) => {
        const v = iou(q.box, d.box);
        if (v >= 0.5) pairs.push({ r, a, v });
      }),
    );
    pairs.sort((x, y) => y.v - x.v);
    const usedR = new Set<number>();
    const usedA = new Set<number>();
    for (const p of pairs) {
      if (usedR.has(p.r) || usedA.has(p.a)) continue;
      usedR.add(p.r);
      usedA.add(p.a);
      found++;
    }
  });
  return { persons, recall: persons ? found / persons : null };
}

/** Pose agreement: share of confident raw keypoints (score ≥ 0.3) that the pose judge finds on
 *  the anonymized crop within 10% of the person's height. */
export function poseAgreement(
  raw: RawAnalysis,
  judged: UtilityJudgement,
): { keypoints: number; agreement: number | null } {
  let total = 0;
  let agree = 0;
  raw.poses.forEach((p, i) => {
    if (!p.body) return;
    // Keypoints are normalised to the square pose crop (poseCrop): the person's height in it.
    const { width, height } = raw.window;
    const side = Math.max(16, Math.round(1.2 * Math.max(p.box.w * width, p.box.h * height)));
    const tolerance = (0.1 * p.box.h * height) / side;
    const anon = judged.poses[i];
    for (const k of p.body.keypoints) {
      if (k.score < 0.3) continue;
      total++;
      const m = anon?.keypoints.find((q) => q.part === k.part && q.score >= 0.2);
      if (m && Math.hypot(m.x - k.x, m.y - k.y) <= tolerance) agree++;
    }
  });
  return { keypoints: total, agreement: total ? agree / total : null };
}

const cosine = (a: number[], b: number[]) => {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? d / Math.sqrt(na * nb) : -1;
};

/**
 * Face re-identification with identities from tracks: per tracked person, the raw faces of the
 * first half of the judged frames form the gallery (a person seen once is gallery and probe), the
 * second half are probes; a probe counts when the anonymized face at its place is nearest to its
 * own person's gallery. Faces that vanish count as not re-identified.
 */
export function faceReid(raw: RawAnalysis, anonFaces: FaceFinding[][], judge: FaceReid['judge']): FaceReid {
  const byTrack = new Map<number, { i: number; face: FaceFinding }[]>();
  raw.faceFrames.forEach((frame, i) => {
    for (const face of raw.rawFaces[i]!.filter((x) => x.judge === judge)) {
      const t = faceTrack(face, frame, raw.tracks.length ? raw.tracks : []);
      // In a video, a face outside every tracked person has no identity over time: left out.
      // A still image has no tracks: each face there is its own identity.
      if (t < 0 && raw.video.frames.length > 1) continue;
      const id = t >= 0 ? t : 1000 + raw.rawFaces[i]!.indexOf(face);
      if (!byTrack.has(id)) byTrack.set(id, []);
      byTrack.get(id)!.push({ i, face });
    }
  });
  const ids = [...byTrack.keys()];
  const gallery = new Map<number, number[]>();
  const probes: { id: number; i: number; face: FaceFinding }[] = [];
  for (const id of ids) {
    const list = byTrack.get(id)!;
    const half = list.length > 1 ? Math.floor(list.length / 2) : 1;
    const g = list.slice(0, half);
    const dim = g[0]!.face.embedding.length;
    const mean = new Array<number>(dim).fill(0);
    for (const x of g) x.face.embedding.forEach((v, j) => (mean[j]! += v / g.length));
    gallery.set(id, mean);
    for (const x of list.length > 1 ? list.slice(half) : list) probes.push({ id, ...x });
  }
  const score = (faces: FaceFinding[][]) => {
    if (probes.length === 0) return 0;
    const perId = new Map<number, { hit: number; n: number }>();
    for (const p of probes) {
      const q = faces[p.i]!.filter((x) => x.judge === judge && iou(x.box, p.face.box) > 0.3).sort(
        (a, b) => iou(b.box, p.face.box) - iou(a.box, p.face.box),
      )[0];
      let hit = 0;
      if (q) {
        const sims = ids.map((id) => cosine(q.embedding, gallery.get(id)!));
        const best = Math.max(...sims);
        const tied = sims.filter((s) => s >= best - 1e-9).length;
        hit = sims[ids.indexOf(p.id)]! >= best - 1e-9 ? 1 / tied : 0;
      }
      const r = perId.get(p.id) ?? { hit: 0, n: 0 };
      r.hit += hit;
      r.n++;
      perId.set(p.id, r);
    }
    const rates = [...perId.values()].map((r) => r.hit / r.n);
    return rates.reduce((a, v) => a + v, 0) / rates.length;
  };
  return {
    judge,
    identities: ids.length,
    rank1: score(anonFaces),
    rank1RawVsRaw: score(raw.rawFaces),
    chance: ids.length ? 1 / ids.length : 1,
  };
}

const maxOf = (v: number[]) => (v.length ? Math.max(...v) : null);

export function verdictOf(report: Omit<VideoAuditReport, 'verdict'>): AuditVerdict {
  const id = report.identity;
  const u = report.utility;
  const pct = (v: number) => `${Math.round(100 * v)}%`;
  let identity: AuditVerdict['identity'];
  let idText: string;
  if (id.chance === null || id.worst === null) {
    identity = 'inconclusive';
    idText = `Too few people could be followed on the raw video (${report.tracks.usable} usable) to test identity.`;
  } else {
    const shape = Math.max(id.silhouetteWorstWithRaw ?? 0, id.silhouetteWorstAnonymizedOnly ?? 0);
    if (id.worst <= shape + 0.05) {
      identity = 'shape-only';
      idText = `The best attacker picks the right person ${pct(id.worst)} of the time (guessing: ${pct(id.chance)}) — no more than from grey silhouettes (${pct(shape)}).`;
    } else if (id.worst <= 0.5) {
      identity = 'beyond-shape';
      idText = `The best attacker picks the right person ${pct(id.worst)} of the time (guessing: ${pct(id.chance)}; grey silhouettes: ${pct(shape)}): some appearance still leaks.`;
    } else {
      identity = 'identifiable';
      idText = `People remain identifiable: the best attacker picks the right person ${pct(id.worst)} of the time (guessing: ${pct(id.chance)}).`;
    }
  }
  let utility: AuditVerdict['utility'];
  let uText: string;
  if (u.personRecall === null) {
    utility = 'inconclusive';
    uText = 'The person detector found nobody on the raw video, so utility could not be judged.';
  } else if (u.personRecall >= 0.8 && (u.poseAgreement ?? 1) >= 0.6) {
    utility = 'people-kept';
    uText = `A person detector still finds ${pct(u.personRecall)} of the people${u.poseAgreement === null ? '' : ` and their poses agree at ${pct(u.poseAgreement)}`}.`;
  } else {
    utility = 'people-lost';
    uText = `Only ${pct(u.personRecall)} of the people are still found by a person detector${u.poseAgreement === null ? '' : ` (pose agreement ${pct(u.poseAgreement)})`}: actions may not be recognisable.`;
  }
  return { identity, utility, summary: `${idText} ${uText}` };
}

/** The whole audit of one anonymized video (or a precomputed frame set) against a raw analysis. */
export async function judgeAnonymized(
  raw: RawAnalysis,
  anon: FrameSet,
  judges: Judges,
  opts: VideoAuditOptions = {},
): Promise<VideoAuditReport> {
  // Training the attackers takes most of the time: a cancel is honoured between them.
  const check = () => {
    if (opts.signal?.aborted) throw new SpactError('cancelled', 'the audit was cancelled');
  };
  check();
  opts.onProgress?.('training identity attackers…');
  const scores = await identityScores(raw, anon, opts.classifier);
  check();
  if (scores && raw.reference === undefined) {
    opts.onProgress?.('training identity attackers on the raw video and on silhouettes…');
    const onRaw = (await identityScores(raw, raw.video, opts.classifier))!;
    check();
    raw.reference = { raw: onRaw, silhouette: (await identityScores(raw, raw.silhouette(), opts.classifier))! };
    check();
  }
  raw.reference ??= null;
  const onRaw = raw.reference?.raw;
  const onSilhouette = raw.reference?.silhouette;
  const judged = await judgeUtility(raw, anon, judges, opts);
  const attackers: AttackerScore[] = scores
    ? (Object.keys(scores) as AttackerScore['id'][]).map((id) => ({
        id,
        holds: id === 'appearance-reid' || id === 'cnn-raw' || id === 'colour-raw' ? 'raw' : 'anonymized',
        label: LABELS[id],
        anonymized: scores[id],
        raw: onRaw![id],
        silhouette: onSilhouette![id],
      }))
    : [];
  const worstOf = (holds: AttackerScore['holds'], col: 'anonymized' | 'silhouette') =>
    maxOf(attackers.filter((a) => a.holds === holds).map((a) => a[col]));
  const recall = personRecall(raw, judged);
  const pose = poseAgreement(raw, judged);
  const reid = (['human', 'face-api'] as const)
    .map((j) => faceReid(raw, judged.faces, j))
    .filter((r) => r.identities > 0);
  const genderHits: number[] = [];
  raw.rawFaces.forEach((faces, i) => {
    for (const face of faces) {
      const m = judged.faces[i]!.find((a) => a.judge === face.judge && iou(a.box, face.box) > 0.3);
      if (m && face.gender && m.gender) genderHits.push(face.gender === m.gender ? 1 : 0);
    }
  });
  const count = (fs: FaceFinding[][]) =>
    Math.max(
      ...(['human', 'face-api'] as const).map((j) => fs.reduce((a, f) => a + f.filter((x) => x.judge === j).length, 0)),
    );
  const usable = raw.identities;
  const report: Omit<VideoAuditReport, 'verdict'> = {
    window: raw.window,
    tracks: {
      total: raw.tracks.length,
      usable,
      galleryCrops: raw.samples.filter((s) => s.role === 'gallery').length,
      probeCrops: raw.samples.filter((s) => s.role === 'probe').length,
    },
    identity: {
      chance: usable >= 2 ? 1 / usable : null,
      attackers,
      worstWithRaw: worstOf('raw', 'anonymized'),
      worstAnonymizedOnly: worstOf('anonymized', 'anonymized'),
      worst: maxOf(attackers.map((a) => a.anonymized)),
      silhouetteWorstWithRaw: worstOf('raw', 'silhouette'),
      silhouetteWorstAnonymizedOnly: worstOf('anonymized', 'silhouette'),
    },
    utility: {
      personsOnRaw: recall.persons,
      personRecall: recall.recall,
      keypointsOnRaw: pose.keypoints,
      poseAgreement: pose.agreement,
    },
    faces: {
      framesJudged: raw.faceFrames.length,
      onRaw: count(raw.rawFaces),
      onAnonymized: count(judged.faces),
      reid,
      rank1: maxOf(reid.map((r) => r.rank1)),
      genderAgreement: genderHits.length ? genderHits.reduce((a, v) => a + v, 0) / genderHits.length : null,
    },
  };
  return { ...report, verdict: verdictOf(report) };
}

/** Audits an anonymized video file against its raw source (the anonymized one is judged at the
 *  raw analysis size: its own smaller size must not hide a person the cloud could upscale). */
export async function auditVideo(
  rawFile: string,
  anonFile: string,
  opts: VideoAuditOptions & { judges?: Judges } = {},
): Promise<VideoAuditReport> {
  await probeVideo(anonFile); // one-line error for a bad anonymized file before the slow part
  const { Judges: JudgesClass } = await import('./judges.js');
  const judges = opts.judges ?? (await JudgesClass.load());
  const raw = await analyzeRaw(rawFile, judges, opts);
  const w = raw.window;
  const anon = await decodeWindow(anonFile, { width: w.width, height: w.height }, w.fps, w.startS, w.endS, opts.signal);
  // A shorter anonymized video lost frames: the missing ones are judged as black (nobody there).
  while (anon.frames.length < raw.video.frames.length) anon.frames.push(new Uint8Array(w.width * w.height * 3));
  anon.frames.length = raw.video.frames.length;
  return judgeAnonymized(raw, anon, judges, opts);
}

export { CROP_H, CROP_W };
