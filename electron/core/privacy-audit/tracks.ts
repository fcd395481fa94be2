// Person tracks from per-frame detections: one identity = one person followed across frames.
// Greedy IoU association against each track's constant-velocity prediction, short gaps bridged.
// Identities for every identity attacker of the audit come from here (never one per detection:
// equal frames of one person must not compete as different people).
import type { Box } from './judges.js';

export interface Detection {
  box: Box;
  score: number;
}

export interface TrackPoint {
  frame: number;
  box: Box;
  score: number;
  /** The box overlaps another person's: the crop shows two people and is left out of re-ID. */
  occluded: boolean;
}

export interface Track {
  id: number;
  points: TrackPoint[];
}

export interface TrackerOptions {
  /** Detections below this score are ignored. */
  minScore: number;
  /** A detection continues a track when its IoU with the track's predicted box reaches this. */
  minIou: number;
  /** Frames a track may go undetected before it ends. */
  maxGap: number;
  /** Tracks with fewer points are dropped (too short to split into gallery and probes). */
  minLength: number;
  /** IoU with another detection of the same frame above which a point is marked occluded. */
  occlusionIou: number;
}

export const DEFAULT_TRACKER: TrackerOptions = {
  minScore: 0.4,
  minIou: 0.3,
  maxGap: 8,
  minLength: 8,
  occlusionIou: 0.15,
};

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.w, b.x + b.w);
  const y1 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

interface Live {
  id: number;
  points: TrackPoint[];
}

/** Where a track's box should be at `frame`: last box moved by the last observed velocity. */
function predict(t: Live, frame: number): Box {
  const last = t.points[t.points.length - 1]!;
  const prev = t.points[t.points.length - 2];
  if (!prev) return last.box;
  const dt = last.frame - prev.frame || 1;
  const k = (frame - last.frame) / dt;
  return {
    x: last.box.x + (last.box.x - prev.box.x) * k,
    y: last.box.y + (last.box.y - prev.box.y) * k,
    w: last.box.w,
    h: last.box.h,
  };
}

/** How well a detection continues a predicted box: its IoU when that reaches `minIou`; after a gap
 *  (occlusion by a pole, a missed detection) a box of similar height near the predicted centre
 *  still continues the track, ranked below any IoU match. 0 = no match. */
function similarity(predicted: Box, box: Box, minIou: number): number {
  const v = iou(predicted, box);
  if (v >= minIou) return 1 + v;
  const ratio = box.h / predicted.h;
  if (ratio < 0.75 || ratio > 1.33) return 0;
  const dx = box.x + box.w / 2 - (predicted.x + predicted.w / 2);
  const dy = box.y + box.h / 2 - (predicted.y + predicted.h / 2);
  const d = Math.hypot(dx, dy) / predicted.h;
  return d <= 0.4 ? 1 - d : 0;
}

export function buildTracks(detections: Detection[][], options: Partial<TrackerOptions> = {}): Track[] {
  const o = { ...DEFAULT_TRACKER, ...options };
  const live: Live[] = [];
  const done: Live[] = [];
  let nextId = 0;
  detections.forEach((all, frame) => {
    const dets = all.filter((d) => d.score >= o.minScore);
    const occluded = dets.map((d, i) => dets.some((e, j) => j !== i && iou(d.box, e.box) > o.occlusionIou));
    // Every (track, detection) pair above the threshold, best first: greedy one-to-one matching.
    const pairs: { t: number; d: number; v: number }[] = [];
    live.forEach((t, ti) => {
      const p = predict(t, frame);
      dets.forEach((d, di) => {
        const v = similarity(p, d.box, o.minIou);
        if (v > 0) pairs.push({ t: ti, d: di, v });
      });
    });
    pairs.sort((a, b) => b.v - a.v);
    const usedT = new Set<number>();
    const usedD = new Set<number>();
    for (const p of pairs) {
      if (usedT.has(p.t) || usedD.has(p.d)) continue;
      usedT.add(p.t);
      usedD.add(p.d);
      const d = dets[p.d]!;
      live[p.t]!.points.push({ frame, box: d.box, score: d.score, occluded: occluded[p.d]! });
    }
    dets.forEach((d, di) => {
      if (!usedD.has(di))
        live.push({ id: nextId++, points: [{ frame, box: d.box, score: d.score, occluded: occluded[di]! }] });
    });
    for (let i = live.length - 1; i >= 0; i--) {
      if (frame - live[i]!.points[live[i]!.points.length - 1]!.frame > o.maxGap) done.push(...live.splice(i, 1));
    }
  });
  done.push(...live);
  return done
    .filter((t) => t.points.length >= o.minLength)
    .sort((a, b) => a.points[0]!.frame - b.points[0]!.frame || a.id - b.id)
    .map((t, i) => ({ id: i, points: t.points }));
}
