// The whole-body identity attackers of the privacy audit on a synthetic scene, without the judges:
// five "people" (rectangles, each in two colours of its own, striped at its own width) walk across a static
// textured room; their exact boxes are the detections. Every attacker must tell them apart on the
// raw video, none may on black frames, and a greyscale video must fool the colour attackers
// while the classifier on standardised grey still sees the stripes.
import { describe, expect, it } from 'vitest';

import {
  appearanceRank1,
  backgroundMedian,
  cropPixels,
  foregroundMask,
  personSamples,
  type FrameSet,
} from '../../electron/core/privacy-audit/identity.js';
import type { Box } from '../../electron/core/privacy-audit/judges.js';
import { buildTracks, type Detection } from '../../electron/core/privacy-audit/tracks.js';
import { identityScores, type RawAnalysis } from '../../electron/core/privacy-audit/video-audit.js';

const W = 320;
const H = 240;
const FRAMES = 60;
const PW = 24; // person size in pixels
const PH = 64;

type Rgb = [number, number, number];
/**
 * Two colours per person in their own hues, but at the same two luminances for everyone (106 and
 * 150, either side of 128, the edge of the descriptors' brightness bins), in vertical stripes of
 * a different width per person, half of every row in each colour. In grey every person has the
 * same brightness histogram (in every horizontal band too): only the stripes' width tells them
 * apart, which the classifier on standardised grey can see (its training flips and shifts the
 * crops, so widths, not phases or sides, must differ).
 */
const PEOPLE: { dark: Rgb; light: Rgb; period: number }[] = [
  { dark: [220, 61, 40], light: [250, 105, 120], period: 24 },
  { dark: [40, 152, 40], light: [150, 171, 40], period: 12 },
  { dark: [60, 103, 240], light: [90, 161, 250], period: 8 },
  { dark: [190, 45, 200], light: [230, 94, 230], period: 6 },
  { dark: [170, 94, 0], light: [220, 136, 40], period: 4 },
];

/** Deterministic noise in [0, 1). */
const rand = (seed: number) => () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;

/** Each person walks along their own lane (never overlapping another), bouncing at the walls. */
function personAt(p: number, f: number): { x: number; y: number } {
  const speed = 2 + p * 0.7;
  const span = W - PW - 4;
  const t = (p * 53 + f * speed) % (2 * span);
  return { x: 2 + Math.round(t < span ? t : 2 * span - t), y: 4 + p * 46 };
}

function synthScene(): { video: FrameSet; detections: Detection[][] } {
  const noise = rand(11);
  const background = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // A dark floor of two greys in 16-px tiles with a little texture (people stand out of it).
      const v = ((x >> 4) + (y >> 4)) % 2 ? 30 : 45;
      for (let c = 0; c < 3; c++) background[(y * W + x) * 3 + c] = v + Math.floor(noise() * 10) + c * 3;
    }
  }
  const frames: Uint8Array[] = [];
  const detections: Detection[][] = [];
  for (let f = 0; f < FRAMES; f++) {
    const frame = new Uint8Array(background);
    const dets: Detection[] = [];
    PEOPLE.forEach((person, p) => {
      const at = personAt(p, f);
      for (let y = 0; y < PH; y++) {
        for (let x = 0; x < PW; x++) {
          const colour = x % person.period < person.period / 2 ? person.dark : person.light;
          const o = ((at.y + y) * W + at.x + x) * 3;
          for (let c = 0; c < 3; c++) frame[o + c] = colour[c]!;
        }
      }
      const box: Box = { x: at.x / W, y: at.y / H, w: PW / W, h: PH / H };
      dets.push({ box, score: 0.9 });
    });
    // Sensor noise on every frame, well below the foreground threshold.
    for (let i = 0; i < frame.length; i++)
      frame[i] = Math.max(0, Math.min(255, frame[i]! + Math.floor(noise() * 9) - 4));
    frames.push(frame);
    detections.push(dets);
  }
  return { video: { width: W, height: H, frames }, detections };
}

/** What identityScores needs of the raw side: tracks, samples, raw crops and the attackers' cache. */
function rawAnalysis(video: FrameSet, detections: Detection[][]): RawAnalysis {
  const tracks = buildTracks(detections);
  const background = backgroundMedian(video);
  const foreground = (f: number) => foregroundMask(video.frames[f]!, background, W, H);
  const { samples, tracks: identities } = personSamples(tracks, foreground, W, H);
  const rawCrops = samples.map((s) => cropPixels(video.frames[s.spec.frame]!, W, H, s.spec));
  return { video, tracks, samples, identities, rawCrops, rawAttackers: new Map() } as unknown as RawAnalysis;
}

const grey = (video: FrameSet): FrameSet => ({
  ...video,
  frames: video.frames.map((f) => {
    const g = new Uint8Array(f.length);
    for (let i = 0; i < f.length; i += 3) {
      g[i] = g[i + 1] = g[i + 2] = Math.round(0.299 * f[i]! + 0.587 * f[i + 1]! + 0.114 * f[i + 2]!);
    }
    return g;
  }),
});

const budget = { epochs: 12, threads: 2 };

describe('identity attackers on a synthetic room', () => {
  const { video, detections } = synthScene();
  const raw = rawAnalysis(video, detections);
  const k = PEOPLE.length;
  const chance = 1 / k;

  it('follows every person as one track with gallery and probe crops', () => {
    expect(raw.tracks).toHaveLength(k);
    expect(raw.identities).toBe(k);
    for (let t = 0; t < k; t++) {
      expect(raw.samples.filter((s) => s.track === t && s.role === 'gallery').length).toBeGreaterThanOrEqual(25);
      expect(raw.samples.filter((s) => s.track === t && s.role === 'probe').length).toBeGreaterThanOrEqual(25);
    }
  });

  it('every attacker tells the people apart on the raw video (far above chance)', async () => {
    const s = (await identityScores(raw, video, budget))!;
    expect(Object.keys(s).sort()).toEqual(
      ['appearance-reid', 'cnn-anonymized', 'cnn-raw', 'colour-anonymized', 'colour-raw', 'linkage'].sort(),
    );
    for (const [id, v] of Object.entries(s)) expect(v, id).toBeGreaterThanOrEqual(3 * chance);
    // The appearance descriptor needs no training: distinct clothes are matched exactly.
    expect(s['appearance-reid']).toBe(1);
  }, 120_000);

  it('no attacker beats guessing on black frames', async () => {
    const black: FrameSet = { width: W, height: H, frames: video.frames.map((f) => new Uint8Array(f.length)) };
    const s = (await identityScores(raw, black, budget))!;
    for (const [id, v] of Object.entries(s)) expect(v, id).toBeLessThanOrEqual(chance + 0.02);
  }, 120_000);

  it('greyscale fools the colour attackers, not the classifier on standardised grey', async () => {
    const s = (await identityScores(raw, grey(video), budget))!;
    // The same two brightnesses in the same proportions for everyone: the appearance descriptor
    // and the colour classifiers, holding raw pictures or only the grey footage, fall to chance…
    for (const id of ['appearance-reid', 'colour-raw', 'colour-anonymized'] as const)
      expect(s[id], id).toBeLessThanOrEqual(chance + 0.05);
    // …while the stripes survive in grey: the CNN on standardised grey holding raw pictures keeps
    // its score (it never looked at colour), and one trained on the grey footage learns them too.
    expect(s['cnn-raw']).toBeGreaterThanOrEqual(0.9);
    expect(s['cnn-anonymized']).toBeGreaterThanOrEqual(2 * chance);
  }, 120_000);

  it('appearance rank-1 is macro-averaged over tracks and shares ties', () => {
    const mask = new Uint8Array(48 * 96).fill(1);
    const crop = (v: number) => new Uint8Array(48 * 96 * 3).fill(v);
    const gallery = [
      { track: 0, crop: crop(40), mask },
      { track: 1, crop: crop(200), mask },
      { track: 2, crop: crop(200), mask }, // looks exactly like track 1
    ];
    const probes = [
      { track: 0, crop: crop(40), mask },
      { track: 0, crop: crop(40), mask },
      { track: 0, crop: crop(40), mask },
      { track: 1, crop: crop(200), mask },
      { track: 2, crop: crop(200), mask },
    ];
    // Track 0: 3/3; tracks 1 and 2: tied with each other, ½ each → (1 + ½ + ½) / 3.
    expect(appearanceRank1(gallery, probes, 3)).toBeCloseTo(2 / 3, 6);
  });
});
