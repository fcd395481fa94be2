// The working size: the short side, in pixels, of the frames f_A anonymizes. One set of limits for
// the CLI, the services, the contract and the UI. A number is the user's choice; 'auto' follows
// the scene: people must stay large enough for a person detector and for cloud action recognition
// after anonymization (measured on a real 768×576 camera: at a fixed 112 px people were 8–20 px
// tall and a detector found at most 71% of them).
import type { WorkingSizeLimits } from '../../contract.js';
import { SpactError } from '../errors.js';
import { sampleFrames } from '../privacy-audit/audit.js';
import type { Judges } from '../privacy-audit/judges.js';
import { probeVideo } from './video.js';

export const MIN_WORKING_SIZE = 112;
export const MAX_WORKING_SIZE = 2160;
/** The contract repeats these limits for the renderer: this fails the typecheck if they differ. */
export const WORKING_SIZE_LIMITS: WorkingSizeLimits = { min: MIN_WORKING_SIZE, max: MAX_WORKING_SIZE };

/**
 * 'auto' makes the 20th percentile of people's heights at least this tall at the working size:
 * CenterNet-class person detectors and pose models lose most people below ~50–60 px (recall 0.71
 * at 8–20 px on the real camera), and action recognizers are trained on people 60+ px tall.
 */
export const AUTO_TARGET_PERSON_PX = 64;
/** 'auto' never goes above this short side (1080p): beyond it the cost grows with no gain for detection. */
export const AUTO_MAX_WORKING_SIZE = 1080;
/** 'auto' with no person measured (none found, or not measured): the source's short side up to this. */
export const AUTO_FALLBACK_WORKING_SIZE = 480;

export type WorkingSizeSetting = number | 'auto';
/** The encoded video: at the working size, or scaled back up to the source's size. */
export type OutputSizeMode = 'working' | 'source';
export const OUTPUT_SIZE_MODES: readonly OutputSizeMode[] = ['working', 'source'];

export const WORKING_SIZE_RANGE = `${MIN_WORKING_SIZE}–${MAX_WORKING_SIZE}`;

/** Parses user input ('auto' or an integer within the limits); a one-line error names what was given. */
export function parseWorkingSize(value: unknown, what = 'working size'): WorkingSizeSetting {
  if (value === 'auto') return 'auto';
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < MIN_WORKING_SIZE || n > MAX_WORKING_SIZE) {
    throw new SpactError(
      'validation',
      `${what} must be auto or an integer ${WORKING_SIZE_RANGE} (short side in pixels), got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

export function parseOutputSize(value: unknown, what = 'output size'): OutputSizeMode {
  if (value === 'working' || value === 'source') return value;
  throw new SpactError('validation', `${what} must be working or source, got ${JSON.stringify(value)}`);
}

/**
 * The short side (pixels) f_A works at for a source of this size.
 * - A number is the user's choice: used as is, clamped to [MIN_WORKING_SIZE, MAX_WORKING_SIZE]
 *   (an explicit number may upscale a small source).
 * - 'auto' with a person height (the 20th percentile of people's heights as a fraction of the
 *   frame height): the smallest short side at which that height is AUTO_TARGET_PERSON_PX, never
 *   above the source's short side (no upscaling), at most AUTO_MAX_WORKING_SIZE.
 * - 'auto' with no person height: the source's short side, at most AUTO_FALLBACK_WORKING_SIZE.
 * Never below MIN_WORKING_SIZE (a source smaller than that is brought up to it).
 */
export function resolveWorkingSize(
  setting: WorkingSizeSetting,
  source: { width: number; height: number },
  personHeightFraction?: number | null,
): number {
  const { width, height } = source;
  if (!(Number.isFinite(width) && Number.isFinite(height) && width > 0 && height > 0))
    throw new SpactError('bad-input', `the source has no valid frame size (${width}×${height})`);
  const clamp = (n: number) => Math.min(MAX_WORKING_SIZE, Math.max(MIN_WORKING_SIZE, n));
  if (setting !== 'auto') {
    if (typeof setting !== 'number' || !Number.isFinite(setting))
      throw new SpactError('validation', `working size must be auto or a number, got ${JSON.stringify(setting)}`);
    return clamp(Math.round(setting));
  }
  const sourceShort = Math.min(width, height);
  let wanted = AUTO_FALLBACK_WORKING_SIZE;
  if (personHeightFraction !== null && personHeightFraction !== undefined) {
    if (!(Number.isFinite(personHeightFraction) && personHeightFraction > 0 && personHeightFraction <= 1))
      throw new SpactError('validation', `a person height fraction is in (0, 1], got ${personHeightFraction}`);
    // The frame height at the working size is short · height / sourceShort (= short for landscape).
    wanted = Math.min(
      AUTO_MAX_WORKING_SIZE,
      Math.ceil(AUTO_TARGET_PERSON_PX / (personHeightFraction * (height / sourceShort))),
    );
  }
  return Math.max(MIN_WORKING_SIZE, Math.min(sourceShort, wanted));
}

/** What a person-height measurement was made on (stored with a room, shown in the UI). */
export interface PersonHeightEstimate {
  /** 20th percentile of people's heights as a fraction of the frame height; null when nobody was found. */
  fraction: number | null;
  /** Frames looked at, files they came from, and person boxes counted (score ≥ PERSON_MIN_SCORE). */
  frames: number;
  files: number;
  persons: number;
}

export const PERSON_MIN_SCORE = 0.4;
export const PERSON_SAMPLE_FRAMES = 8;

/** The p-quantile (nearest rank) of a list of numbers; null when empty. */
export function quantile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/**
 * Measures how tall people are in these videos: ~`frames` frames spread over the files (at most
 * that many files, evenly chosen), CenterNet person boxes with score ≥ 0.4, and the 20th percentile
 * of their heights as a fraction of the frame height. Takes a few seconds (about 0.2 s per frame
 * plus the judges' loading).
 */
export async function estimatePersonHeightFraction(
  files: string[],
  judges: Pick<Judges, 'persons'>,
  opts: { frames?: number; maxWidth?: number; signal?: AbortSignal } = {},
): Promise<PersonHeightEstimate> {
  if (files.length === 0) throw new SpactError('validation', 'measuring people needs at least one video');
  const total = Math.max(1, opts.frames ?? PERSON_SAMPLE_FRAMES);
  const chosen =
    files.length <= total
      ? files
      : Array.from({ length: total }, (_, i) => files[Math.floor(((i + 0.5) * files.length) / total)]!);
  const heights: number[] = [];
  let frames = 0;
  for (let i = 0; i < chosen.length; i++) {
    if (opts.signal?.aborted) throw new SpactError('cancelled', 'measuring people was cancelled');
    const file = chosen[i]!;
    // Spread the remaining frames over the remaining files.
    const count = Math.ceil((total - frames) / (chosen.length - i));
    if (count <= 0) break;
    const info = await probeVideo(file);
    // At the source width (people far away are a few pixels tall), up to 1920 px: the person
    // detector looks at a downscaled copy anyway, and 8 4K frames would cost 200 MB for nothing.
    const width = Math.max(2, 2 * Math.floor(Math.min(info.width, opts.maxWidth ?? 1920) / 2));
    const sample = await sampleFrames(file, count, width);
    for (const rgb of sample.frames) {
      const persons = await judges.persons(rgb, sample.width, sample.height);
      for (const p of persons) if (p.score >= PERSON_MIN_SCORE && p.box.h > 0) heights.push(Math.min(1, p.box.h));
      frames++;
    }
  }
  return { fraction: quantile(heights, 0.2), frames, files: chosen.length, persons: heights.length };
}
