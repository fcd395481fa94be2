// Training configuration: one strict schema with commented defaults, two presets, and the merge
// rule preset ← config file ← command-line overrides. Unknown keys and wrong types are errors.
import fs from 'node:fs';
import os from 'node:os';

import { z } from 'zod';

const widths = z.array(z.number().int().min(1).max(4096)).min(1);

/** Room mode off: the defaults every config and old checkpoint gets. */
const ROOM_DEFAULTS = {
  enabled: false,
  cropSize: 160,
  studentWidths: [32, 64, 64],
  utilityPosWeight: 9,
  // The utility student's heatmap loss is ~0.06 where NT-Xent is ~1–3: at ω 0.5 the identity term
  // blanked the frame within 100 steps; at 0.05 identity falls while people stay (bench/RESULTS.md).
  omegaId: 0.05,
  adaptStudent: false,
  idCropW: 32,
  idCropH: 64,
  structureWeight: 0,
  structureRadius: 6,
  initTarget: 'identity' as const,
  detailGain: 1.2,
  minGapS: 1,
  jitter: 0.15,
};
const blocks = z.array(z.number().int().min(1).max(64)).min(1);

export const TrainConfigSchema = z
  .object({
    model: z
      .object({
        // f_A: per-frame UNet. widths per level (the last is the bottleneck).
        fA: z
          .object({
            widths: widths.min(2),
            upsample: z.enum(['bilinear', 'pixelshuffle', 'transpose']), // transpose is slow on CPU
            batchNorm: z.boolean(),
            channelsLast: z.boolean(), // NHWC layout: ~1.7x faster convolutions on CPU
          })
          .strict(),
        // f_T: R3D-style 3D CNN, one width and block count per stage.
        fT: z.object({ widths, blocks }).strict(),
        // f_B: ResNet-style 2D CNN + projection head (projDim), bottleneck blocks for ResNet-50.
        fB: z
          .object({
            widths,
            blocks,
            bottleneck: z.boolean(),
            imagenetStem: z.boolean(),
            projDim: z.number().int().min(2).max(4096),
          })
          .strict(),
      })
      .strict(),
    budget: z
      .object({
        // ntxent: SPAct's SSL branch; moco / rotnet: ablations (paper Table 5);
        // supervised: Wu et al. baseline, f_B trained with BCE on privacy labels.
        loss: z.enum(['ntxent', 'moco', 'rotnet', 'supervised']),
        freeze: z.boolean(), // paper Table 3 "frozen f_B": never update f_B in step 2
        temperature: z.number().positive(), // NT-Xent / MoCo temperature τ
        mocoQueue: z.number().int().min(8),
        mocoMomentum: z.number().min(0).max(1),
        // supervised only: train f_B on these privacy attributes (null: all the dataset has).
        attributes: z.array(z.string()).min(1).nullable(),
      })
      .strict(),
    // Temporal sampler S_F: which two frames of a clip form the positive pair.
    sampler: z
      .object({
        strategy: z.enum(['random', 'near', 'far']),
        nearMax: z.number().int().min(2), // "near": frames fewer than nearMax apart
        farMin: z.number().int().min(1), // "far": frames more than farMin apart
      })
      .strict(),
    data: z
      .object({
        batchSize: z.number().int().min(2).max(1024), // clips per batch (≥ 2 for the contrastive loss)
        clipFrames: z.number().int().min(1), // frames given to f_T
        frameStride: z.number().int().min(1), // taken every frameStride frames
      })
      .strict(),
    optim: z
      .object({
        lrA: z.number().positive(),
        lrT: z.number().positive(),
        lrB: z.number().positive(),
        weightDecay: z.number().min(0),
      })
      .strict(),
    init: z
      .object({
        thA0: z.number().positive(), // Eq. 6: stop f_A identity init when validation L1 ≤ thA0
        maxStepsA: z.number().int().min(0),
        thT0: z.number().positive(), // Eq. 7: stop f_T init when validation L_T ≤ thT0
        thB0: z.number().positive(), // Eq. 8: stop f_B init when validation L_B ≤ thB0
        maxStepsTB: z.number().int().min(0),
      })
      .strict(),
    minimax: z
      .object({
        steps: z.number().int().min(0), // step budget: minimax iterations (step 1 + step 2)
        omega: z.number().min(0).max(1), // ω in Eq. 9
        // Stop when validation L_B reaches this; "auto" = 95% of the chance level of the SSL loss.
        thBMax: z.union([z.number().positive(), z.literal('auto'), z.null()]),
        // f_A's learning rate during the minimax (null = optim.lrA). The identity init wants a fast
        // rate; the minimax a slow one, or f_A collapses to a blank frame before f_T can object.
        lrA: z.number().positive().nullable().default(null),
      })
      .strict(),
    // Room adaptation: keep utility by distillation from the frozen base f_T (no action labels).
    distill: z
      .object({
        enabled: z.boolean(),
        temperature: z.number().positive(),
        // The teacher's input: 'raw' clips, or 'anonymized' by the frozen base f_A. A raw teacher
        // is matched exactly by an identity f_A, so it pulls f_A back towards the input.
        teacher: z.enum(['raw', 'anonymized']).default('raw'),
        // false: f_T is the frozen base action model. true: a frozen copy teaches and f_T keeps
        // learning its soft labels on f_A's output in every step 2, so f_A cannot fool one frozen model.
        adaptT: z.boolean().default(false),
      })
      .strict(),
    // Real rooms (no labels of any kind): utility from pseudo-labels of pretrained person and pose
    // models on the raw footage, reproduced from f_A's output by a student f_U (trained on raw
    // frames, then frozen: a fixed natural-image judge, like the cloud's models); privacy from an
    // identity budget f_Bid — NT-Xent over person crops, the positive being the same person at
    // another time. Data: a room dataset (native-models/ts/room-data.ts); f_T is not used.
    room: z
      .object({
        enabled: z.boolean(),
        cropSize: z.number().int().min(32).max(1024), // training crops at the working scale (px, ÷ 4 and f_A's divisor)
        studentWidths: widths.min(3), // f_U: two stride-2 convs, then three dilated ones
        utilityPosWeight: z.number().min(0), // heatmap BCE weight 1 + w·target
        omegaId: z.number().min(0).max(10), // weight of the identity budget in step 1
        adaptStudent: z.boolean(), // f_U keeps learning on f_A's output (SPAct's f_T) instead of staying frozen
        idCropW: z.number().int().min(8).max(256), // person crops given to f_Bid
        idCropH: z.number().int().min(8).max(512),
        // Structure kept, appearance free: weight of |detail(f_A(x)) − detail(x)| in step 1, where
        // detail = luma minus its local mean (radius structureRadius px, twice). 0: off.
        structureWeight: z.number().min(0).default(0),
        structureRadius: z.number().int().min(1).max(64).default(6),
        // f_A's init reconstructs the frame ('identity', SPAct) or the detail prior ('detail': grey
        // 0.5 + detailGain × the luminance detail — colour and clothes' shading gone, edges kept).
        initTarget: z.enum(['identity', 'detail']).default('identity'),
        detailGain: z.number().min(0).max(10).default(1.2),
        minGapS: z.number().min(0), // the two times of a person are preferably this far apart (s)
        jitter: z.number().min(0).max(1), // brightness/contrast jitter of training crops
      })
      .strict()
      .default(ROOM_DEFAULTS),
    // Augmentation, drawn once per clip (the same for all its frames).
    augment: z
      .object({
        enabled: z.boolean(),
        cropMinScale: z.number().min(0.1).max(1),
        flip: z.boolean(),
        jitter: z.number().min(0).max(1),
        eraseProb: z.number().min(0).max(1),
      })
      .strict(),
    eval: z
      .object({
        every: z.number().int().min(1), // evaluate on the validation split every N steps
        batches: z.number().int().min(1), // fixed validation batches per evaluation
      })
      .strict(),
    checkpoint: z
      .object({
        every: z.number().int().min(1), // write RUN_DIR/checkpoint.pt every N steps
        snapshotEvery: z.number().int().min(0), // keep RUN_DIR/snapshots/step-N.pt (0: never)
      })
      .strict(),
    logEvery: z.number().int().min(1), // one metrics.jsonl line every N steps
    device: z.string().regex(/^(auto|cpu|cuda(:\d+)?)$/, 'device must be auto, cpu, cuda or cuda:N'),
    threads: z.number().int().min(0).max(1024), // 0: all cores
    seed: z.number().int().min(0),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type PresetName = 'edge' | 'paper';
export type DistillTeacher = TrainConfig['distill']['teacher'];

type DeepPartial<T> = T extends (infer U)[] ? U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type TrainConfigOverrides = DeepPartial<TrainConfig>;

const common = {
  budget: { loss: 'ntxent', freeze: false, temperature: 0.1, mocoQueue: 1024, mocoMomentum: 0.99, attributes: null },
  sampler: { strategy: 'random', nearMax: 8, farMin: 64 },
  optim: { lrA: 1e-4, lrT: 1e-4, lrB: 1e-4, weightDecay: 0 },
  augment: { enabled: true, cropMinScale: 0.8, flip: true, jitter: 0.2, eraseProb: 0.25 },
  distill: { enabled: false, temperature: 2, teacher: 'raw', adaptT: false },
  device: 'auto',
  threads: 0,
  seed: 0,
} as const;

export const PRESETS: Record<PresetName, TrainConfig> = {
  // CPU-sized: trains at ~0.3 s per minimax iteration (4 clips × 8 frames × 64²) on 2 cores.
  edge: {
    model: {
      fA: { widths: [16, 32, 64], upsample: 'bilinear', batchNorm: false, channelsLast: true },
      fT: { widths: [16, 32, 64, 128], blocks: [1, 1, 1, 1] },
      fB: { widths: [16, 32, 64, 128], blocks: [1, 1, 1, 1], bottleneck: false, imagenetStem: false, projDim: 128 },
    },
    ...structuredClone(common),
    budget: { ...common.budget, attributes: null },
    sampler: { ...common.sampler },
    data: { batchSize: 8, clipFrames: 8, frameStride: 2 },
    optim: { lrA: 1e-3, lrT: 1e-3, lrB: 1e-3, weightDecay: 0 },
    // f_T needs ~1500 steps to recognise SynthRoom's actions (val acc ~0.15 after 400): a minimax
    // against an f_T at chance lets f_A blank the frame, since L_T then costs nothing.
    init: { thA0: 0.02, maxStepsA: 400, thT0: 0.3, thB0: 1.0, maxStepsTB: 1500 },
    minimax: { steps: 1000, omega: 0.5, thBMax: 'auto', lrA: 1e-4 },
    augment: { ...common.augment },
    room: structuredClone(ROOM_DEFAULTS),
    eval: { every: 50, batches: 4 },
    checkpoint: { every: 100, snapshotEvery: 100 },
    logEvery: 10,
  },
  // The paper's networks (GPU-sized): UNet 64-128-256-512-512, R3D-18, ResNet-50. Learning
  // rates 1e-4 as in the official code. Clips of 16 frames (SynthRoom clips are 16 frames long,
  // so stride 1 instead of the paper's 2).
  paper: {
    model: {
      fA: { widths: [64, 128, 256, 512, 512], upsample: 'bilinear', batchNorm: true, channelsLast: true },
      fT: { widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2] },
      fB: { widths: [64, 128, 256, 512], blocks: [3, 4, 6, 3], bottleneck: true, imagenetStem: true, projDim: 128 },
    },
    ...structuredClone(common),
    budget: { ...common.budget, attributes: null },
    sampler: { ...common.sampler },
    data: { batchSize: 8, clipFrames: 16, frameStride: 1 },
    optim: { ...common.optim },
    init: { thA0: 0.01, maxStepsA: 5000, thT0: 0.5, thB0: 1.0, maxStepsTB: 5000 },
    minimax: { steps: 20000, omega: 0.5, thBMax: 'auto', lrA: null },
    augment: { ...common.augment },
    room: structuredClone(ROOM_DEFAULTS),
    eval: { every: 250, batches: 8 },
    checkpoint: { every: 500, snapshotEvery: 1000 },
    logEvery: 25,
  },
};

export class ConfigError extends Error {
  readonly kind = 'bad-input' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, everything else (arrays included) is replaced. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v) : v;
  return out as T;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const where = i.path.join('.') || '(root)';
      if (i.code === 'unrecognized_keys')
        return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${[...i.path, k].join('.')}"`).join(', ')}`;
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

/** Validates a complete config; throws ConfigError naming every offending key. */
export function validateConfig(candidate: unknown, source: string): TrainConfig {
  const parsed = TrainConfigSchema.safeParse(candidate);
  if (!parsed.success) throw new ConfigError(`invalid config (${source}): ${formatIssues(parsed.error)}`);
  return parsed.data;
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!isPlainObject(value)) throw new ConfigError(`config file ${file} must hold a JSON object`);
    return value;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** preset ← file ← overrides, validated. */
export function resolveConfig(opts: {
  preset?: PresetName;
  configFile?: string;
  overrides?: TrainConfigOverrides;
}): TrainConfig {
  const preset = opts.preset ?? 'edge';
  if (!(preset in PRESETS)) throw new ConfigError(`unknown preset "${preset}" (edge or paper)`);
  let merged: unknown = structuredClone(PRESETS[preset]);
  if (opts.configFile) merged = deepMerge(merged, readConfigFile(opts.configFile));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);
  return validateConfig(merged, opts.configFile ? `preset ${preset} + ${opts.configFile}` : `preset ${preset}`);
}

/** What the dataset contributes to the engine: label spaces. Stored with the config in checkpoints. */
export interface LabelSpace {
  actions: string[];
  multiLabelActions: boolean;
  privacyAttributes: string[];
}

/** The flat config the native engine reads (see native-models/src/engine.h). */
export function engineConfigOf(cfg: TrainConfig, labels: LabelSpace): Record<string, unknown> {
  return {
    fA: cfg.model.fA,
    fT: cfg.model.fT,
    fB: cfg.model.fB,
    numActions: labels.actions.length,
    multiLabelActions: labels.multiLabelActions,
    numPrivacy: cfg.budget.loss === 'supervised' ? labels.privacyAttributes.length : 0,
    budgetLoss: cfg.budget.loss,
    freezeBudget: cfg.budget.freeze,
    distill: cfg.distill.enabled,
    distillTemperature: cfg.distill.temperature,
    distillTeacher: cfg.distill.teacher,
    distillAdaptT: cfg.distill.adaptT,
    temperature: cfg.budget.temperature,
    mocoQueue: cfg.budget.mocoQueue,
    mocoMomentum: cfg.budget.mocoMomentum,
    omega: cfg.minimax.omega,
    clipFrames: cfg.data.clipFrames,
    frameStride: cfg.data.frameStride,
    sampler: cfg.sampler.strategy,
    nearMax: cfg.sampler.nearMax,
    farMin: cfg.sampler.farMin,
    lrA: cfg.optim.lrA,
    lrT: cfg.optim.lrT,
    lrB: cfg.optim.lrB,
    weightDecay: cfg.optim.weightDecay,
    augment: cfg.augment,
    // Configs of old checkpoints predate room mode.
    room: { ...(cfg.room ?? ROOM_DEFAULTS), heatmaps: 18 /* ROOM_HEATMAPS: people + 17 keypoints */ },
    device: cfg.device,
    threads: cfg.threads > 0 ? cfg.threads : os.availableParallelism(),
    seed: cfg.seed,
  };
}

/** Chance level of the budget loss for a batch of n clips: where a fooled f_B sits. */
export function budgetChanceLevel(cfg: TrainConfig): number {
  const n = cfg.data.batchSize;
  switch (cfg.budget.loss) {
    case 'ntxent':
      return Math.log(2 * n - 1);
    case 'moco':
      return Math.log(cfg.budget.mocoQueue + 1);
    case 'rotnet':
      return Math.log(4);
    case 'supervised':
      return Math.log(2);
  }
}
