// Choosing a room fine-tune's model by the audit's own figures on held-out footage of the room
// (never by in-loop losses, which go stale: f_A can fool its own f_U and f_Bid while independent
// judges and attackers disagree). Every candidate checkpoint anonymizes the held-out part at the
// working size; the privacy audit (video-audit.ts) judges it beside the base model.
import path from 'node:path';

import { Anonymizer } from '../../../native-models/ts/anonymizer.js';
import { readCheckpointMeta } from '../../../native-models/ts/checkpoint.js';
import { SpactError } from '../errors.js';
import { probeVideo, workingSize } from '../media/video.js';
import type { FrameSet } from '../privacy-audit/identity.js';
import type { Judges } from '../privacy-audit/judges.js';
import {
  analyzeRaw,
  decodeWindow,
  judgeAnonymized,
  type RawAnalysis,
  type VideoAuditReport,
} from '../privacy-audit/video-audit.js';
import type { FootagePart } from './room-footage.js';

/** What the product promises on a real room: people kept for a detector and a pose model. */
export const UTILITY_GOAL = { recall: 0.9, pose: 0.8 };
export const SELECTION_RULE =
  `lowest worst identity (max of the attackers holding raw pictures and those holding only anonymized footage) ` +
  `among the checkpoints keeping person recall ≥ ${UTILITY_GOAL.recall} and pose agreement ≥ ${UTILITY_GOAL.pose} on the held-out footage; ` +
  `if none does, the one closest to keeping them (highest min(recall/${UTILITY_GOAL.recall}, pose/${UTILITY_GOAL.pose})); ` +
  `the base model stays when it beats every checkpoint by this rule`;

export interface AuditSummary {
  tracks: number;
  chance: number | null;
  worstWithRaw: number | null;
  worstAnonymizedOnly: number | null;
  silhouetteWorstWithRaw: number | null;
  silhouetteWorstAnonymizedOnly: number | null;
  personRecall: number | null;
  poseAgreement: number | null;
  verdict: string;
}

export function summarize(r: VideoAuditReport): AuditSummary {
  return {
    tracks: r.tracks.usable,
    chance: r.identity.chance,
    worstWithRaw: r.identity.worstWithRaw,
    worstAnonymizedOnly: r.identity.worstAnonymizedOnly,
    silhouetteWorstWithRaw: r.identity.silhouetteWorstWithRaw,
    silhouetteWorstAnonymizedOnly: r.identity.silhouetteWorstAnonymizedOnly,
    personRecall: r.utility.personRecall,
    poseAgreement: r.utility.poseAgreement,
    verdict: r.verdict.summary,
  };
}

export interface RoomSelection {
  part: FootagePart;
  workingSize: number;
  rule: string;
  /** The base model on the same footage: "before" (null for a model trained from scratch). */
  base: AuditSummary | null;
  candidates: { checkpoint: string; minimaxStep: number; audit: AuditSummary }[];
  chosen: string;
  warnings: string[];
}

/** Bilinear resize of an RGB frame. */
export function resizeRgb(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  if (sw === dw && sh === dh) return src;
  const out = new Uint8Array(dw * dh * 3);
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(sh - 1, Math.max(0, ((y + 0.5) * sh) / dh - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const ay = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(sw - 1, Math.max(0, ((x + 0.5) * sw) / dw - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const ax = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v =
          (src[(y0 * sw + x0) * 3 + c]! * (1 - ax) + src[(y0 * sw + x1) * 3 + c]! * ax) * (1 - ay) +
          (src[(y1 * sw + x0) * 3 + c]! * (1 - ax) + src[(y1 * sw + x1) * 3 + c]! * ax) * ay;
        out[(y * dw + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return out;
}

/** Shrinks or enlarges an RGB frame; shrinking averages over each output pixel's footprint first
 *  (a box prefilter), so fine detail does not alias. */
export function scaleRgb(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const fx = sw / dw;
  const fy = sh / dh;
  if (fx <= 1.01 && fy <= 1.01) return resizeRgb(src, sw, sh, dw, dh);
  const rx = Math.max(0, Math.floor(fx / 2));
  const ry = Math.max(0, Math.floor(fy / 2));
  const blurred = new Uint8Array(src.length);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        let n = 0;
        for (let yy = Math.max(0, y - ry); yy <= Math.min(sh - 1, y + ry); yy++) {
          for (let xx = Math.max(0, x - rx); xx <= Math.min(sw - 1, x + rx); xx++) {
            sum += src[(yy * sw + xx) * 3 + c]!;
            n++;
          }
        }
        blurred[(y * sw + x) * 3 + c] = Math.round(sum / n);
      }
    }
  }
  return resizeRgb(blurred, sw, sh, dw, dh);
}

/** The audit window of `file` anonymized by a model the way the app does it — decoded straight at
 *  the working size, through f_A — then brought to the audit's size, frame for frame with `raw`. */
export async function anonymizeWindow(
  model: string,
  file: string,
  raw: RawAnalysis,
  size: number,
  source: { width: number; height: number },
  signal?: AbortSignal,
  engine: { device?: string; threads?: number } = {},
): Promise<FrameSet> {
  const anonymizer = await Anonymizer.load(model, engine);
  const { width: aw, height: ah } = raw.video;
  const work = workingSize(source, size);
  const w = raw.window;
  const frames: Uint8Array[] = [];
  try {
    const input = await decodeWindow(file, work, w.fps, w.startS, w.endS, signal);
    for (const f of input.frames.slice(0, raw.video.frames.length)) {
      if (signal?.aborted) throw new SpactError('cancelled', 'choosing the model was cancelled');
      const out = await anonymizer.anonymize(f, 1, work.height, work.width);
      frames.push(scaleRgb(out, work.width, work.height, aw, ah));
    }
  } finally {
    await anonymizer.close(); // one window per candidate: its f_A is freed now, not at some GC
  }
  // A window shorter than the raw one (a damaged file) is judged as black frames.
  while (frames.length < raw.video.frames.length) frames.push(new Uint8Array(aw * ah * 3));
  return { width: aw, height: ah, frames };
}

export function isBetter(a: AuditSummary, b: AuditSummary): boolean {
  const keeps = (s: AuditSummary) =>
    (s.personRecall ?? 0) >= UTILITY_GOAL.recall && (s.poseAgreement ?? 0) >= UTILITY_GOAL.pose;
  const identity = (s: AuditSummary) => Math.max(s.worstWithRaw ?? 1, s.worstAnonymizedOnly ?? 1);
  const closeness = (s: AuditSummary) =>
    Math.min((s.personRecall ?? 0) / UTILITY_GOAL.recall, (s.poseAgreement ?? 0) / UTILITY_GOAL.pose);
  if (keeps(a) !== keeps(b)) return keeps(a);
  if (keeps(a)) return identity(a) < identity(b);
  return closeness(a) > closeness(b);
}

export async function selectOnFootage(
  candidates: string[],
  base: string | null,
  part: FootagePart,
  size: number,
  judges: Judges,
  opts: {
    cacheDir?: string;
    signal?: AbortSignal;
    onProgress?: (m: string) => void;
    /** Device and threads of the anonymizers judged (the app's settings). */
    engine?: { device?: string; threads?: number };
  } = {},
): Promise<RoomSelection> {
  const progress = opts.onProgress ?? (() => undefined);
  const info = await probeVideo(part.file);
  const raw = await analyzeRaw(part.file, judges, {
    startS: part.startS ?? 0,
    endS: part.endS ?? info.durationS,
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (m) => progress(`held-out footage: ${m}`),
  });
  const warnings: string[] = [];
  if (raw.identities < 2)
    warnings.push(
      `the held-out footage shows ${raw.identities} person(s) that can be followed: identity cannot be compared`,
    );
  const judge = async (model: string) =>
    summarize(
      await judgeAnonymized(
        raw,
        await anonymizeWindow(model, part.file, raw, size, info, opts.signal, opts.engine),
        judges,
        {
          ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          onProgress: (m) => progress(`held-out footage: ${m}`),
        },
      ),
    );
  if (base) progress('judging the base model on the held-out footage…');
  const before = base ? await judge(base) : null;
  const judged: RoomSelection['candidates'] = [];
  for (const c of candidates) {
    progress(`judging ${path.basename(c)} on the held-out footage…`);
    judged.push({ checkpoint: c, minimaxStep: readCheckpointMeta(c).state.minimaxStep, audit: await judge(c) });
  }
  // Ties (e.g. identity not measurable on the held-out part) go to the later, longer-trained checkpoint.
  const best = judged.reduce((a, b) => (isBetter(a.audit, b.audit) ? a : b));
  let chosen = best.checkpoint;
  if (base && before && isBetter(before, best.audit)) {
    // Fine-tuning made things worse on unseen footage of the room: keep the base model.
    chosen = base;
    warnings.push(
      'no fine-tuned checkpoint did better than the base model on the held-out footage: the run keeps the base model',
    );
  }
  return { part, workingSize: size, rule: SELECTION_RULE, base: before, candidates: judged, chosen, warnings };
}
