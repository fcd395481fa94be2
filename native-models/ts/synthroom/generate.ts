// SynthRoom: writes the labelled benchmark the project evaluates on (UCF101/VISPR cannot be had
// offline). Deterministic from the seed. One folder per protocol, each in the engine's dataset
// format (manifest.json + raw clips), plus per-frame person boxes for the obfuscation baselines.
import fs from 'node:fs';
import path from 'node:path';

import { ClipDatasetWriter, type Split } from '../dataset.js';
import { mulberry32 } from '../rng.js';
import { renderClip, type Box } from './render.js';
import {
  ACTIONS,
  attributeVector,
  FLOOR_STYLES,
  KNOWN_ACTIONS,
  NOVEL_ACTIONS,
  PERSON_ATTRIBUTES,
  PRIVACY_ATTRIBUTES,
  ROOM_ATTRIBUTES,
  sampleMotion,
  samplePerson,
  sampleRoom,
  WALL_STYLES,
  type Action,
  type SceneSpec,
} from './scene.js';

export type SynthPreset = 'tiny' | 'small' | 'full';
type Counts = Partial<Record<Split, number>>;

export interface SynthPresetSpec {
  size: number;
  frames: number;
  datasets: Record<SynthDatasetName, Counts>;
}

export const SYNTH_DATASETS = ['main', 'known-action', 'novel-action', 'new-room'] as const;
export type SynthDatasetName = (typeof SYNTH_DATASETS)[number];

export const SYNTH_PRESETS: Record<SynthPreset, SynthPresetSpec> = {
  // CI-sized: a whole pipeline in minutes.
  tiny: {
    size: 64,
    frames: 16,
    datasets: {
      main: { train: 240, val: 60, test: 120 },
      'known-action': { train: 96, val: 24 },
      'novel-action': { train: 80, test: 48 },
      'new-room': { train: 80, val: 24, test: 48 },
    },
  },
  small: {
    size: 64,
    frames: 16,
    datasets: {
      main: { train: 2000, val: 300, test: 600 },
      'known-action': { train: 1500, val: 200 },
      'novel-action': { train: 800, test: 400 },
      'new-room': { train: 800, val: 200, test: 400 },
    },
  },
  full: {
    size: 112,
    frames: 16,
    datasets: {
      main: { train: 8000, val: 800, test: 1600 },
      'known-action': { train: 6000, val: 600 },
      'novel-action': { train: 3000, test: 1200 },
      'new-room': { train: 3000, val: 600, test: 1200 },
    },
  },
};

/** Room styles seen in training; the new-room split uses only the held-out ones. */
const TRAINING_WALLS = ['beige', 'blue-grey', 'sage'];
const TRAINING_FLOORS: (typeof FLOOR_STYLES)[number][] = ['wood', 'tiles'];
const NEW_ROOM_WALLS = Object.keys(WALL_STYLES).filter((w) => !TRAINING_WALLS.includes(w));
const NEW_ROOM_FLOORS = FLOOR_STYLES.filter((f) => !TRAINING_FLOORS.includes(f));

const DATASET_ACTIONS: Record<SynthDatasetName, readonly Action[]> = {
  main: ACTIONS,
  'known-action': KNOWN_ACTIONS,
  'novel-action': NOVEL_ACTIONS,
  'new-room': ACTIONS,
};

export interface SynthResult {
  out: string;
  preset: SynthPreset;
  seed: number;
  size: number;
  frames: number;
  datasets: Record<SynthDatasetName, Counts>;
  clips: number;
  seconds: number;
  clipsPerMinute: number;
  actions: string[];
  attributes: { person: string[]; room: string[] };
  heldOut: { walls: string[]; floors: string[] };
  samples: string[];
}

/** Seed of one clip from (seed, dataset, split, index): any clip can be regenerated alone. */
function clipSeed(seed: number, dataset: SynthDatasetName, split: Split, i: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const ch of `${dataset}/${split}/${i}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export function sceneFor(
  seed: number,
  dataset: SynthDatasetName,
  split: Split,
  i: number,
): { spec: SceneSpec; action: number } {
  const rand = mulberry32(clipSeed(seed, dataset, split, i));
  const actions = DATASET_ACTIONS[dataset];
  // Balanced actions: clip i gets action i mod K (order is shuffled by the batch sampler).
  const action = i % actions.length;
  const newRoom = dataset === 'new-room';
  const spec: SceneSpec = {
    person: samplePerson(rand),
    room: sampleRoom(rand, newRoom ? NEW_ROOM_WALLS : TRAINING_WALLS, newRoom ? NEW_ROOM_FLOORS : TRAINING_FLOORS),
    motion: sampleMotion(rand, actions[action]!),
    light: { gain: 0.75 + 0.4 * rand(), drift: (rand() * 2 - 1) * 0.15 },
    noise: 2 + 4 * rand(),
    jitter: 1.5 * rand(),
  };
  return { spec, action };
}

export interface SynthOptions {
  out: string;
  preset?: SynthPreset;
  seed?: number;
  /** Write one viewable MP4 per action (needs an encoder; see media core). */
  writeSample?: (file: string, frames: Uint8Array, n: number, w: number, h: number) => Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

export async function generateSynthRoom(opts: SynthOptions): Promise<SynthResult> {
  const preset = opts.preset ?? 'small';
  const spec = SYNTH_PRESETS[preset];
  if (!spec) throw new Error(`unknown SynthRoom preset "${preset}" (tiny, small or full)`);
  const seed = opts.seed ?? 0;
  const t0 = performance.now();
  const total = SYNTH_DATASETS.reduce(
    (acc, d) => acc + Object.values(spec.datasets[d]).reduce((a, b) => a + (b ?? 0), 0),
    0,
  );
  let done = 0;
  fs.mkdirSync(opts.out, { recursive: true });
  for (const name of SYNTH_DATASETS) {
    const dir = path.join(opts.out, name);
    fs.rmSync(dir, { recursive: true, force: true });
    const writer = new ClipDatasetWriter(
      dir,
      { frames: spec.frames, height: spec.size, width: spec.size },
      { actions: [...DATASET_ACTIONS[name]], privacyAttributes: PRIVACY_ATTRIBUTES },
    );
    const boxes: Partial<Record<Split, Box[][]>> = {};
    for (const [split, count] of Object.entries(spec.datasets[name]) as [Split, number][]) {
      const splitBoxes: Box[][] = (boxes[split] = []);
      for (let i = 0; i < count; i++) {
        const { spec: scene, action } = sceneFor(seed, name, split, i);
        const clip = renderClip(scene, spec.size, spec.size, spec.frames, clipSeed(seed, name, split, i));
        writer.add(split, clip.frames, action, attributeVector(scene.person, scene.room));
        splitBoxes.push(clip.boxes.map((b) => roundBox(b)));
        if (++done % 50 === 0) opts.onProgress?.(done, total);
      }
    }
    fs.writeFileSync(path.join(dir, 'boxes.json'), JSON.stringify(boxes));
    writer.finish({
      generator: 'synthroom',
      preset,
      seed,
      dataset: name,
      attributeGroups: { person: PERSON_ATTRIBUTES, room: ROOM_ATTRIBUTES },
      boxesFile: 'boxes.json',
      heldOutRoom: { walls: NEW_ROOM_WALLS, floors: NEW_ROOM_FLOORS },
    });
  }
  opts.onProgress?.(total, total);
  const seconds = (performance.now() - t0) / 1000;

  const samples: string[] = [];
  if (opts.writeSample) {
    const sampleDir = path.join(opts.out, 'samples');
    fs.mkdirSync(sampleDir, { recursive: true });
    const size = Math.max(spec.size, 128);
    for (const [a, action] of ACTIONS.entries()) {
      const { spec: scene } = sceneFor(seed, 'main', 'test', a);
      const clip = renderClip(scene, size, size, 48, clipSeed(seed, 'main', 'test', a));
      const file = path.join(sampleDir, `${action}.mp4`);
      await opts.writeSample(file, clip.frames, 48, size, size);
      samples.push(file);
    }
  }

  const result: SynthResult = {
    out: path.resolve(opts.out),
    preset,
    seed,
    size: spec.size,
    frames: spec.frames,
    datasets: spec.datasets,
    clips: total,
    seconds,
    clipsPerMinute: (total / seconds) * 60,
    actions: [...ACTIONS],
    attributes: { person: PERSON_ATTRIBUTES, room: ROOM_ATTRIBUTES },
    heldOut: { walls: NEW_ROOM_WALLS, floors: [...NEW_ROOM_FLOORS] },
    samples,
  };
  fs.writeFileSync(path.join(opts.out, 'synthroom.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

function roundBox(b: Box): Box {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { x0: r(b.x0), y0: r(b.y0), x1: r(b.x1), y1: r(b.y1) };
}

/** Person boxes per split/clip/frame, as written next to a SynthRoom dataset. */
export function readBoxes(datasetDir: string): Partial<Record<Split, Box[][]>> | null {
  const file = path.join(datasetDir, 'boxes.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Record<Split, Box[][]>>) : null;
}
