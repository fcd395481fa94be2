// The paper's evaluation protocol (§4): freeze the anonymizer, anonymize the data, train fresh
// target models from scratch on anonymized training clips — an action model f'_T and privacy
// attackers f'_B of two architectures (a 2D CNN and a colour-histogram MLP) — and test them on
// anonymized test clips. Privacy is reported for the worst case over attackers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Anonymizer } from '../anonymizer.js';
import { BatchSampler, ClipDataset, ClipDatasetWriter, DatasetError, type Split } from '../dataset.js';
import { loadNative } from '../native.js';
import { mulberry32, shuffled } from '../rng.js';
import { readBoxes } from '../synthroom/generate.js';
import { applyBaseline, isBaseline, needsBoxes, type Baseline } from './baselines.js';
import { multiLabelScores, top1 } from './metrics.js';

export const PROTOCOLS = ['known', 'novel-privacy', 'novel-action'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Training budget of the target models: identical for every anonymizer compared. */
export interface ProbeBudget {
  actionEpochs: number;
  attackerEpochs: number;
  batchSize: number;
  /** Use at most this many training clips (null: all). */
  maxTrainClips: number | null;
}

export const DEFAULT_BUDGET: ProbeBudget = { actionEpochs: 8, attackerEpochs: 8, batchSize: 16, maxTrainClips: null };

export interface EvalOptions {
  /** A SynthRoom folder (main/, novel-action/, …) or one dataset folder. */
  data: string;
  /** RUN_DIR / checkpoint, or a baseline name. */
  anonymizer: string;
  protocol?: Protocol;
  budget?: Partial<ProbeBudget>;
  /** Evaluate on this split instead of test (model selection uses val). */
  testSplit?: Split;
  seed?: number;
  threads?: number;
  device?: string;
  workDir?: string;
  /** Only the action model (the novel-action protocol reuses the known-protocol attackers). */
  skipPrivacy?: boolean;
  onProgress?: (message: string) => void;
}

export interface AttackerResult {
  cmap: number;
  f1: number;
  perAttribute: Record<string, number | null>;
  perAttributeF1: Record<string, number | null>;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);

export interface GroupResult {
  privacy_cmap: number;
  privacy_f1: number;
  worst_attacker: string;
  attackers: Record<string, { cmap: number; f1: number }>;
}

export interface EvalResult {
  anonymizer: string;
  protocol: Protocol;
  action_top1: number;
  /** Worst case over attackers on the protocol's attribute group. */
  privacy_cmap: number;
  privacy_f1: number;
  worst_attacker: string;
  group: string;
  groups: Record<string, GroupResult>;
  attackers: Record<string, AttackerResult>;
  per_attribute_ap: Record<string, number | null>;
  flicker: number;
  test_split: Split;
  budget: ProbeBudget;
  attributes: string[];
}

/** How a clip is turned into its anonymized version. */
type ClipTransform = (
  clip: Uint8Array,
  t: number,
  h: number,
  w: number,
  split: Split,
  index: number,
) => Promise<Uint8Array>;

interface DatasetPlan {
  dir: string;
  dataset: ClipDataset;
}

function resolveDatasets(
  data: string,
  protocol: Protocol,
): {
  action: DatasetPlan;
  privacy: DatasetPlan;
  attributes: string[];
  groups: Record<string, string[]>;
  group: string;
} {
  const isRoot = fs.existsSync(path.join(data, 'main', 'manifest.json'));
  const open = (dir: string): DatasetPlan => ({ dir, dataset: ClipDataset.open(dir) });
  const privacy = open(isRoot ? path.join(data, 'main') : data);
  const action = isRoot && protocol === 'novel-action' ? open(path.join(data, 'novel-action')) : privacy;
  const meta = privacy.dataset.manifest.meta as { attributeGroups?: { person: string[]; room: string[] } } | undefined;
  const all = privacy.dataset.manifest.privacyAttributes;
  if (all.length === 0)
    throw new DatasetError(`${privacy.dir} has no privacy attributes: the privacy protocol needs labelled attributes`);
  // Attackers learn every attribute; each group is scored on its own classes. "known" reports the
  // person group, "novel-privacy" the room group (attributes f_A was never pointed at).
  const groups: Record<string, string[]> = meta?.attributeGroups ? { ...meta.attributeGroups } : { all };
  const group = meta?.attributeGroups ? (protocol === 'novel-privacy' ? 'room' : 'person') : 'all';
  return { action, privacy, attributes: all, groups, group };
}

async function makeTransform(
  anonymizer: string,
  opts: { device?: string; threads?: number },
): Promise<{ name: string; transform: ClipTransform | null; close?: () => void }> {
  if (isBaseline(anonymizer)) {
    if (anonymizer === 'raw') return { name: 'raw', transform: null };
    const kind: Baseline = anonymizer;
    const boxesByDir = new Map<string, ReturnType<typeof readBoxes>>();
    return {
      name: kind,
      transform: async (clip, t, h, w, split, index) => {
        const dir = currentDir;
        if (!boxesByDir.has(dir)) boxesByDir.set(dir, readBoxes(dir));
        const boxes = boxesByDir.get(dir);
        if (needsBoxes(kind) && !boxes) {
          throw new DatasetError(
            `the ${kind} baseline needs person boxes (boxes.json, written by spact synth) in ${dir}`,
          );
        }
        return applyBaseline(kind, clip, t, h, w, boxes?.[split]?.[index]);
      },
    };
  }
  const model = await Anonymizer.load(anonymizer, {
    ...(opts.device ? { device: opts.device } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
  });
  return { name: anonymizer, transform: (clip, t, h, w) => model.anonymize(clip, t, h, w) };
}

// The dataset folder being transformed (baselines look up its boxes).
let currentDir = '';

/** Writes the anonymized version of the given splits into workDir, clip by clip (bounded memory). */
async function anonymizeDataset(
  plan: DatasetPlan,
  splits: Split[],
  transform: ClipTransform,
  outDir: string,
): Promise<ClipDataset> {
  const m = plan.dataset.manifest;
  const writer = new ClipDatasetWriter(
    outDir,
    { frames: m.frames, height: m.height, width: m.width },
    { actions: m.actions, multiLabel: m.multiLabel, privacyAttributes: m.privacyAttributes },
  );
  currentDir = plan.dir;
  for (const split of splits) {
    const count = plan.dataset.count(split);
    const labels = m.labels[split]!;
    for (let i = 0; i < count; i++) {
      const raw = plan.dataset.readBatch(split, [i]).frames;
      const anon = await transform(raw, m.frames, m.height, m.width, split, i);
      writer.add(split, anon, labels.actions[i]!, labels.privacy?.[i]);
    }
  }
  writer.finish(m.meta);
  return ClipDataset.open(outDir);
}

interface ProbeHandle {
  train(b: {
    frames: Uint8Array;
    n: number;
    t: number;
    h: number;
    w: number;
    targets: Int32Array | Float32Array;
  }): Promise<{ loss: number }>;
  predict(b: { frames: Uint8Array; n: number; t: number; h: number; w: number }): Promise<Float32Array>;
}

/** Trains a fresh probe for `epochs` over the training clips and returns its test logits. */
async function trainAndPredict(
  ds: ClipDataset,
  trainSplit: Split,
  testSplit: Split,
  probeConfig: Record<string, unknown>,
  targetsOf: (split: Split, indices: number[]) => Int32Array | Float32Array,
  epochs: number,
  budget: ProbeBudget,
  seed: number,
): Promise<Float32Array> {
  const { Probe } = loadNative() as unknown as { Probe: new (c: Record<string, unknown>) => ProbeHandle };
  const probe = new Probe({ ...probeConfig, seed });
  const available = ds.count(trainSplit);
  const pool = shuffled(
    Array.from({ length: available }, (_, i) => i),
    mulberry32(seed),
  ).slice(0, budget.maxTrainClips ?? available);
  const bs = Math.min(budget.batchSize, pool.length);
  const sampler = new BatchSampler(pool.length, bs, seed);
  const steps = Math.max(1, Math.floor((epochs * pool.length) / bs));
  for (let k = 0; k < steps; k++) {
    const idx = sampler.indices(k).map((i) => pool[i]!);
    const b = ds.readBatch(trainSplit, idx);
    await probe.train({ ...b, targets: targetsOf(trainSplit, idx) });
  }
  const n = ds.count(testSplit);
  const parts: Float32Array[] = [];
  for (let s = 0; s < n; s += 32) {
    const idx = Array.from({ length: Math.min(32, n - s) }, (_, i) => s + i);
    const b = ds.readBatch(testSplit, idx);
    parts.push(await probe.predict(b));
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Temporal difference of anonymized frames relative to raw (1 = as much change as the raw video). */
async function flicker(raw: ClipDataset, anon: ClipDataset, split: Split, maxClips = 64): Promise<number> {
  const m = raw.manifest;
  const fb = m.height * m.width * 3;
  let dRaw = 0;
  let dAnon = 0;
  const n = Math.min(maxClips, raw.count(split));
  for (let i = 0; i < n; i++) {
    const a = raw.readBatch(split, [i]).frames;
    const b = anon.readBatch(split, [i]).frames;
    for (let f = 1; f < m.frames; f++) {
      for (let p = 0; p < fb; p++) {
        dRaw += Math.abs(a[f * fb + p]! - a[(f - 1) * fb + p]!);
        dAnon += Math.abs(b[f * fb + p]! - b[(f - 1) * fb + p]!);
      }
    }
  }
  return dRaw === 0 ? Number.NaN : dAnon / dRaw;
}

export async function evaluate(opts: EvalOptions): Promise<EvalResult> {
  const protocol = opts.protocol ?? 'known';
  const budget: ProbeBudget = { ...DEFAULT_BUDGET, ...opts.budget };
  const seed = opts.seed ?? 0;
  const threads = opts.threads ?? os.availableParallelism();
  const testSplit = opts.testSplit ?? 'test';
  const say = opts.onProgress ?? (() => undefined);
  const { action, privacy, attributes, groups, group } = resolveDatasets(opts.data, protocol);
  for (const plan of [action, privacy]) {
    if (plan.dataset.count('train') < 2) throw new DatasetError(`${plan.dir} needs a train split`);
    if (plan.dataset.count(testSplit) < 1) throw new DatasetError(`${plan.dir} has no "${testSplit}" split`);
  }
  const attrIndex = attributes.map((a) => privacy.dataset.manifest.privacyAttributes.indexOf(a));
  if (attrIndex.some((i) => i < 0)) throw new DatasetError('attribute group names do not match the dataset');

  const work = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spact-eval-'));
  const { name, transform } = await makeTransform(opts.anonymizer, {
    ...(opts.device ? { device: opts.device } : {}),
    threads,
  });
  try {
    // 1. Anonymize (baselines and models alike), split by split.
    say(`anonymizing with ${name}…`);
    const anonPrivacy =
      transform && !(opts.skipPrivacy && action !== privacy)
        ? await anonymizeDataset(privacy, ['train', testSplit], transform, path.join(work, 'privacy'))
        : privacy.dataset;
    const anonAction =
      action === privacy
        ? anonPrivacy
        : transform
          ? await anonymizeDataset(action, ['train', testSplit], transform, path.join(work, 'action'))
          : action.dataset;

    const m = anonAction.manifest;
    const common = { device: opts.device ?? 'auto', threads };
    // 2. f'_T: a fresh 3D CNN on anonymized clips.
    say('training the action model f′_T…');
    const actionLabels = (split: Split, idx: number[]) =>
      Int32Array.from(idx, (i) => anonAction.manifest.labels[split]!.actions[i] as number);
    const actionLogits = await trainAndPredict(
      anonAction,
      'train',
      testSplit,
      {
        ...common,
        kind: 'r3d',
        numOutputs: m.actions.length,
        clipFrames: Math.min(8, m.frames),
        frameStride: m.frames >= 16 ? 2 : 1,
      },
      actionLabels,
      budget.actionEpochs,
      budget,
      seed + 11,
    );
    const testActions = anonAction.manifest.labels[testSplit]!.actions as number[];
    const actionTop1 = top1(actionLogits, testActions, testActions.length, m.actions.length);

    // 3. f'_B: two attackers of different architectures on the attribute group.
    const privLabels = (split: Split, idx: number[]) => {
      const rows = anonPrivacy.manifest.labels[split]!.privacy;
      if (!rows) throw new DatasetError(`split "${split}" has no privacy labels`);
      const out = new Float32Array(idx.length * attributes.length);
      idx.forEach((clip, r) => attrIndex.forEach((a, c) => (out[r * attributes.length + c] = rows[clip]![a]!)));
      return out;
    };
    const attackers: Record<string, AttackerResult> = {};
    if (opts.skipPrivacy) {
      return {
        anonymizer: name,
        protocol,
        action_top1: actionTop1,
        privacy_cmap: Number.NaN,
        privacy_f1: Number.NaN,
        worst_attacker: '',
        group,
        groups: {},
        attackers,
        per_attribute_ap: {},
        flicker: Number.NaN,
        test_split: testSplit,
        budget,
        attributes,
      };
    }
    const testCount = anonPrivacy.count(testSplit);
    const testTargets = privLabels(
      testSplit,
      Array.from({ length: testCount }, (_, i) => i),
    );
    const attackerConfigs: Record<string, Record<string, unknown>> = {
      // Wider than the edge f_B, so the attacker is not the network f_A was trained against.
      cnn2d: { kind: 'resnet2d', widths: [32, 64, 128, 256], blocks: [1, 1, 1, 1], framesPerClip: 2 },
      'colour-histogram-mlp': { kind: 'hist-mlp', histBins: 8, framesPerClip: 4 },
    };
    for (const [attacker, cfg] of Object.entries(attackerConfigs)) {
      say(`training the privacy attacker ${attacker}…`);
      const logits = await trainAndPredict(
        anonPrivacy,
        'train',
        testSplit,
        { ...common, ...cfg, numOutputs: attributes.length, multiLabel: true },
        privLabels,
        budget.attackerEpochs,
        budget,
        seed + 23,
      );
      attackers[attacker] = multiLabelScores(logits, testTargets, testCount, attributes);
    }
    // Per group: each attacker's cMAP/F1 over the group's classes; the worst case is reported.
    const groupResults: Record<string, GroupResult> = {};
    for (const [g, names] of Object.entries(groups)) {
      const per: Record<string, { cmap: number; f1: number }> = {};
      for (const [attacker, r] of Object.entries(attackers)) {
        const aps = names.map((n) => r.perAttribute[n]).filter((v): v is number => v !== null && v !== undefined);
        const f1s = names.map((n) => r.perAttributeF1[n]).filter((v): v is number => v !== null && v !== undefined);
        per[attacker] = { cmap: mean(aps), f1: mean(f1s) };
      }
      const [worst, w] = Object.entries(per).reduce((a, b) => (b[1].cmap > a[1].cmap ? b : a));
      groupResults[g] = {
        privacy_cmap: w.cmap,
        privacy_f1: Math.max(...Object.values(per).map((p) => p.f1)),
        worst_attacker: worst,
        attackers: per,
      };
    }
    const chosen = groupResults[group]!;
    const perAttribute = Object.fromEntries(
      groups[group]!.map((n) => [n, attackers[chosen.worst_attacker]!.perAttribute[n] ?? null]),
    );

    // 4. Flicker on the test clips.
    const flick = transform ? await flicker(privacy.dataset, anonPrivacy, testSplit) : 1;
    return {
      anonymizer: name,
      protocol,
      action_top1: actionTop1,
      privacy_cmap: chosen.privacy_cmap,
      privacy_f1: chosen.privacy_f1,
      worst_attacker: chosen.worst_attacker,
      group,
      groups: groupResults,
      attackers,
      per_attribute_ap: perAttribute,
      flicker: flick,
      test_split: testSplit,
      budget,
      attributes,
    };
  } finally {
    if (!opts.workDir) fs.rmSync(work, { recursive: true, force: true });
  }
}
