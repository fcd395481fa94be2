// Privacy audit of an anonymization with independent judges: the same frames of the raw and the
// anonymized video are given to pretrained face, person and pose models. Privacy evidence: faces
// found, face re-identification (is the anonymized face's embedding nearest to the right raw
// face?), gender/age agreement. Utility evidence: person detection recall and keypoint agreement
// (PCK) relative to raw. The judges' own behaviour on raw frames is reported beside each number.
import { spawn } from 'node:child_process';

import { SpactError } from '../errors.js';
import { ffmpegPath, ffmpegReason } from '../media/ffmpeg.js';
import { probeVideo } from '../media/video.js';
import { Judges, type Box, type FaceFinding, type FrameFindings } from './judges.js';

export interface AuditReport {
  frames: number;
  width: number;
  height: number;
  faces_raw: number;
  faces_anonymized: number;
  /** Share of raw faces whose identity is recovered from the anonymized frame (worst judge). */
  reid_rank1: number;
  reid_by_judge: Record<string, number>;
  gender_agreement: number | null;
  age_mae: number | null;
  person_recall: number | null;
  pose_pck: number | null;
  judges_on_raw: {
    faces_by_judge: Record<string, number>;
    /** Agreement of the two face detectors on raw frames: how reliable "faces found" is. */
    face_detector_agreement: number | null;
    mean_face_score: number | null;
    persons: number;
    mean_person_score: number | null;
    mean_keypoint_score: number | null;
    reid_rank1_raw_vs_raw: number;
  };
}

/** `count` frames spread over the file (images give one), RGB at a fixed width. */
export async function sampleFrames(
  file: string,
  count: number,
  width: number,
): Promise<{ frames: Uint8Array[]; width: number; height: number }> {
  const info = await probeVideo(file);
  const height = Math.max(2, 2 * Math.round((info.height * width) / info.width / 2));
  // A still image has no duration: its one frame is taken as is.
  const still = !(info.durationS > 0.1) || info.frames === 1;
  const filter = still
    ? `scale=${width}:${height}`
    : `fps=${Math.max(0.01, count / info.durationS)},scale=${width}:${height}`;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-i',
    file,
    '-vf',
    filter,
    '-frames:v',
    String(still ? 1 : count),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  const { stdout, stderr, code } = await new Promise<{ stdout: Buffer; stderr: string; code: number }>(
    (resolve, reject) => {
      const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (c) => resolve({ stdout: Buffer.concat(chunks), stderr: err, code: c ?? -1 }));
    },
  );
  if (code !== 0) throw new SpactError('bad-input', `${file}: could not read frames (${ffmpegReason(stderr)})`);
  const fb = width * height * 3;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + fb <= stdout.length; o += fb) frames.push(new Uint8Array(stdout.subarray(o, o + fb)));
  if (frames.length === 0) throw new SpactError('bad-input', `${file}: no frame could be decoded`);
  return { frames, width, height };
}

function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.w, b.x + b.w);
  const y1 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : -1;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);

/**
 * Rank-1 re-identification per judge: for every raw face (the gallery is all raw faces of all
 * frames), find the anonymized face at the same place in the same frame; it counts as
 * re-identified when its nearest raw embedding is that very raw face. Faces that vanish count as
 * not re-identified.
 */
function reid(raw: FrameFindings[], anon: FrameFindings[], judge: FaceFinding['judge']): number | null {
  const gallery = raw.flatMap((f, frame) => f.faces.filter((x) => x.judge === judge).map((face) => ({ frame, face })));
  if (gallery.length === 0) return null;
  let hits = 0;
  for (const g of gallery) {
    const candidates = anon[g.frame]!.faces.filter((x) => x.judge === judge && iou(x.box, g.face.box) > 0.3);
    const query = candidates.sort((a, b) => iou(b.box, g.face.box) - iou(a.box, g.face.box))[0];
    if (!query) continue;
    const best = gallery.reduce((a, b) =>
      cosine(query.embedding, b.face.embedding) > cosine(query.embedding, a.face.embedding) ? b : a,
    );
    if (best === g) hits++;
  }
  return hits / gallery.length;
}

export async function auditPair(
  rawFile: string,
  anonFile: string,
  opts: { frames?: number; width?: number; judges?: Judges } = {},
): Promise<AuditReport> {
  const count = opts.frames ?? 8;
  const rawInfo = await probeVideo(rawFile);
  const width = Math.min(opts.width ?? 640, rawInfo.width);
  const raw = await sampleFrames(rawFile, count, width);
  // The anonymized video is judged at the raw frames' size: its own (smaller) size must not hide
  // a face from the detector that the cloud could still upscale and recognise.
  const anon = await sampleFrames(anonFile, count, width);
  const n = Math.min(raw.frames.length, anon.frames.length);
  const judges = opts.judges ?? (await Judges.load());
  const rawF: FrameFindings[] = [];
  const anonF: FrameFindings[] = [];
  for (let i = 0; i < n; i++) {
    rawF.push(await judges.analyze(raw.frames[i]!, raw.width, raw.height));
    anonF.push(await judges.analyze(anon.frames[i]!, anon.width, anon.height));
  }

  const reidBy: Record<string, number> = {};
  for (const judge of ['human', 'face-api'] as const) {
    const r = reid(rawF, anonF, judge);
    if (r !== null) reidBy[judge] = r;
  }
  const selfReid = Math.min(...(['human', 'face-api'] as const).map((j) => reid(rawF, rawF, j) ?? 1));

  // Attribute agreement on faces found at the same place by the same judge.
  const genderHits: number[] = [];
  const ageErr: number[] = [];
  rawF.forEach((f, i) => {
    for (const face of f.faces) {
      const match = anonF[i]!.faces.find((a) => a.judge === face.judge && iou(a.box, face.box) > 0.3);
      if (!match) continue;
      if (face.gender && match.gender) genderHits.push(face.gender === match.gender ? 1 : 0);
      if (face.age !== null && match.age !== null) ageErr.push(Math.abs(face.age - match.age));
    }
  });

  // Utility: persons still detected, and keypoints still where they were.
  const recalls: number[] = [];
  const pck: number[] = [];
  rawF.forEach((f, i) => {
    for (const p of f.persons) recalls.push(anonF[i]!.persons.some((q) => iou(q.box, p.box) > 0.3) ? 1 : 0);
    for (const body of f.bodies) {
      const match = anonF[i]!.bodies.find((b) => iou(b.box, body.box) > 0.3);
      const tolerance = 0.2 * Math.max(body.box.w, body.box.h);
      for (const k of body.keypoints.filter((k) => k.score >= 0.3)) {
        const m = match?.keypoints.find((q) => q.part === k.part);
        pck.push(m && Math.hypot(m.x - k.x, m.y - k.y) <= tolerance ? 1 : 0);
      }
    }
  });

  const facesBy = (fs: FrameFindings[], judge: string) =>
    fs.reduce((a, f) => a + f.faces.filter((x) => x.judge === judge).length, 0);
  const humanFaces = rawF.flatMap((f) => f.faces.filter((x) => x.judge === 'human'));
  const apiFaces = rawF.flatMap((f, i) => f.faces.filter((x) => x.judge === 'face-api').map((face) => ({ face, i })));
  const agreement =
    humanFaces.length + apiFaces.length > 0
      ? rawF.reduce((acc, f) => {
          const h = f.faces.filter((x) => x.judge === 'human');
          const a = f.faces.filter((x) => x.judge === 'face-api');
          return (
            acc +
            h.filter((x) => a.some((y) => iou(x.box, y.box) > 0.3)).length +
            a.filter((y) => h.some((x) => iou(x.box, y.box) > 0.3)).length
          );
        }, 0) /
        (humanFaces.length + apiFaces.length)
      : null;
  const countFaces = (fs: FrameFindings[]) => Math.max(facesBy(fs, 'human'), facesBy(fs, 'face-api'));

  return {
    frames: n,
    width: raw.width,
    height: raw.height,
    faces_raw: countFaces(rawF),
    faces_anonymized: countFaces(anonF),
    reid_rank1: Object.keys(reidBy).length ? Math.max(...Object.values(reidBy)) : 0,
    reid_by_judge: reidBy,
    gender_agreement: mean(genderHits),
    age_mae: mean(ageErr),
    person_recall: mean(recalls),
    pose_pck: mean(pck),
    judges_on_raw: {
      faces_by_judge: { human: facesBy(rawF, 'human'), 'face-api': facesBy(rawF, 'face-api') },
      face_detector_agreement: agreement,
      mean_face_score: mean(rawF.flatMap((f) => f.faces.map((x) => x.score))),
      persons: rawF.reduce((a, f) => a + f.persons.length, 0),
      mean_person_score: mean(rawF.flatMap((f) => f.persons.map((p) => p.score))),
      mean_keypoint_score: mean(rawF.flatMap((f) => f.bodies.flatMap((b) => b.keypoints.map((k) => k.score)))),
      reid_rank1_raw_vs_raw: selfReid,
    },
  };
}
