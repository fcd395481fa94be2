// Person tracks from per-frame detections (the identities of every identity attacker of the
// privacy audit): synthetic detections of people walking, missed, crossing and flickering.
import { describe, expect, it } from 'vitest';

import type { Box } from '../../electron/core/privacy-audit/judges.js';
import { buildTracks, DEFAULT_TRACKER, iou, type Detection } from '../../electron/core/privacy-audit/tracks.js';

/** A person 0.1 wide and 0.3 tall walking at constant speed (normalised coordinates). */
const walker =
  (x0: number, y: number, vx: number) =>
  (frame: number): Box => ({ x: x0 + vx * frame, y, w: 0.1, h: 0.3 });

/** Detections of `frames` frames: every person whose `present(frame)` holds, in a shuffled order. */
function scene(
  frames: number,
  people: { box: (f: number) => Box; present?: (f: number) => boolean; score?: number }[],
): Detection[][] {
  return Array.from({ length: frames }, (_, f) => {
    const dets = people.filter((p) => p.present?.(f) ?? true).map((p) => ({ box: p.box(f), score: p.score ?? 0.8 }));
    // The detector's order says nothing about identity.
    return f % 2 ? dets.reverse() : dets;
  });
}

/** The x of a track's boxes in frame order. */
const xs = (t: { points: { box: Box }[] }) => t.points.map((p) => p.box.x);
const monotonic = (v: number[], sign: 1 | -1) => v.every((x, i) => i === 0 || sign * (x - v[i - 1]!) > 0);

describe('person tracks (buildTracks)', () => {
  it('follows two people walking apart as two identities, one point per frame each', () => {
    const a = walker(0.05, 0.1, 0.01);
    const b = walker(0.8, 0.55, -0.008);
    const tracks = buildTracks(scene(40, [{ box: a }, { box: b }]));
    expect(tracks).toHaveLength(2);
    for (const t of tracks) {
      expect(t.points.map((p) => p.frame)).toEqual(Array.from({ length: 40 }, (_, f) => f));
      expect(t.points.every((p) => !p.occluded)).toBe(true);
    }
    // Each track stays on one person: A moves right along the top, B left along the bottom.
    const top = tracks.find((t) => t.points[0]!.box.y < 0.3)!;
    const bottom = tracks.find((t) => t.points[0]!.box.y > 0.3)!;
    expect(monotonic(xs(top), 1)).toBe(true);
    expect(monotonic(xs(bottom), -1)).toBe(true);
    expect(tracks.map((t) => t.id)).toEqual([0, 1]);
  });

  it('bridges a person missed for a few frames, and ends a track after a longer gap', () => {
    const a = walker(0.05, 0.1, 0.012);
    const missed = (f: number) => f < 12 || f > 16; // 5 frames unseen, fewer than maxGap
    const bridged = buildTracks(scene(40, [{ box: a, present: missed }]));
    expect(bridged).toHaveLength(1);
    expect(bridged[0]!.points).toHaveLength(35);
    expect(bridged[0]!.points.map((p) => p.frame)).not.toContain(14);
    // A gap longer than maxGap splits the person into two tracks (both long enough to keep).
    const gap = DEFAULT_TRACKER.maxGap + 4;
    const split = buildTracks(scene(40, [{ box: a, present: (f) => f < 14 || f >= 14 + gap }]));
    expect(split).toHaveLength(2);
    expect(split[0]!.points.at(-1)!.frame).toBe(13);
    expect(split[1]!.points[0]!.frame).toBe(14 + gap);
  });

  it('keeps two crossing people apart and marks the frames where their boxes overlap as occluded', () => {
    // Same height on screen, walking towards each other: their boxes overlap around frame 20.
    const a = walker(0.1, 0.4, 0.015);
    const b = walker(0.7, 0.42, -0.015);
    const dets = scene(40, [{ box: a }, { box: b }]);
    const tracks = buildTracks(dets);
    expect(tracks).toHaveLength(2);
    const right = tracks.find((t) => t.points[0]!.box.x < 0.4)!;
    const left = tracks.find((t) => t.points[0]!.box.x > 0.4)!;
    // Identity kept through the crossing: the constant-velocity prediction picks the right box.
    expect(monotonic(xs(right), 1)).toBe(true);
    expect(monotonic(xs(left), -1)).toBe(true);
    for (const t of tracks) {
      expect(t.points).toHaveLength(40);
      for (const p of t.points) {
        const overlap = iou(a(p.frame), b(p.frame));
        expect(p.occluded, `frame ${p.frame}, IoU ${overlap.toFixed(2)}`).toBe(overlap > DEFAULT_TRACKER.occlusionIou);
      }
    }
    const occluded = right.points.filter((p) => p.occluded).map((p) => p.frame);
    expect(occluded.length).toBeGreaterThan(2);
    expect(occluded.length).toBeLessThan(15);
    expect(occluded).toContain(20);
  });

  it('drops short tracks and low-score detections', () => {
    const a = walker(0.05, 0.1, 0.01);
    const flicker = walker(0.6, 0.6, 0); // seen for 5 frames only
    const faint = walker(0.3, 0.5, 0.005); // seen all along, below the detector score threshold
    const tracks = buildTracks(
      scene(30, [
        { box: a },
        { box: flicker, present: (f) => f >= 10 && f < 15 },
        { box: faint, score: DEFAULT_TRACKER.minScore - 0.1 },
      ]),
    );
    expect(tracks).toHaveLength(1);
    expect(tracks[0]!.points[0]!.box.y).toBe(0.1);
    // A shorter minimum length keeps the flickering person.
    expect(
      buildTracks(scene(30, [{ box: a }, { box: flicker, present: (f) => f >= 10 && f < 15 }]), { minLength: 5 }),
    ).toHaveLength(2);
  });
});
