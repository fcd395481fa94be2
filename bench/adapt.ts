// `npm run bench:adapt [-- --preset small|tiny] [--base RUN_DIR] [--steps N] [--variants NAME,…]`: room adaptation
// measured on SynthRoom's held-out "new room" split. The base model (the SynthRoom model, or
// --base) is fine-tuned on the new room's training clips with their labels removed — no privacy
// and no action labels, as an operator would have — then base and fine-tuned anonymizers are
// evaluated with the paper's protocol on the new room (fresh action model and attackers trained on
// its anonymized training clips, tested on its test clips). One fine-tune per variant (the
// distillation teacher's input: raw clips, or clips through the frozen base f_A; f_A's minimax
// rate), at the same budget and seed; one is selected on the validation split.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  ClipDataset,
  ClipDatasetWriter,
  deepMerge,
  synthroomModelDir,
  evaluate,
  generateSynthRoom,
  readCheckpointMeta,
  resolveCheckpointPath,
  train,
  type EvalResult,
  type TrainConfigOverrides,
  type SynthPreset,
} from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeJsonAtomic, writeResults } from './results-file.js';

const arg = benchArg;
const preset = (arg('--preset') ?? 'small') as SynthPreset;
const steps = Number(arg('--steps') ?? (preset === 'tiny' ? 6 : 300));
const base = resolveCheckpointPath(arg('--base') ?? synthroomModelDir());
const threads = Math.min(2, os.availableParallelism());
// Fine-tune settings compared at the same step budget and seed; the names are cache keys.
const VARIANTS: Record<string, { label: string; overrides: TrainConfigOverrides }> = {
  raw: { label: 'fine-tuned: raw teacher, lr_A 1e-4', overrides: { distill: { teacher: 'raw' } } },
  anonymized: { label: 'fine-tuned: anonymized teacher, lr_A 1e-4', overrides: { distill: { teacher: 'anonymized' } } },
  'anonymized-lrA-1e-3': {
    label: 'fine-tuned: anonymized teacher, lr_A 1e-3',
    overrides: { distill: { teacher: 'anonymized' }, minimax: { lrA: 1e-3 } },
  },
  // f_T keeps learning the frozen teacher's soft labels on f_A's output (distill.adaptT).
  'raw-adaptT': {
    label: 'fine-tuned: raw teacher, adapting f_T, lr_A 1e-4',
    overrides: { distill: { teacher: 'raw', adaptT: true } },
  },
  'anonymized-adaptT-lrA-1e-3': {
    label: 'fine-tuned: anonymized teacher, adapting f_T, lr_A 1e-3',
    overrides: { distill: { teacher: 'anonymized', adaptT: true }, minimax: { lrA: 1e-3 } },
  },
};
const variants = (arg('--variants') ?? Object.keys(VARIANTS).join(',')).split(',');
for (const v of variants) {
  if (!VARIANTS[v]) throw new Error(`--variants: unknown variant "${v}" (${Object.keys(VARIANTS).join(', ')})`);
}
const cache = path.join(benchDir, '.cache', `adapt-${preset}-${steps}`);
const data = path.join(cache, 'synthroom');
const log = (m: string) => process.stderr.write(`[bench:adapt ${preset}] ${m}\n`);
const probes =
  preset === 'tiny'
    ? { actionEpochs: 1, attackerEpochs: 1, batchSize: 16, maxTrainClips: 64 }
    : { actionEpochs: 12, attackerEpochs: 8, batchSize: 16, maxTrainClips: null };
fs.mkdirSync(cache, { recursive: true });

if (!fs.existsSync(path.join(data, 'synthroom.json'))) {
  log('generating SynthRoom…');
  await generateSynthRoom({ out: data, preset, seed: 0 });
}
const newRoom = path.join(data, 'new-room');

// The operator's footage: the new room's training clips, every label removed.
const footage = path.join(cache, 'new-room-unlabeled');
if (!fs.existsSync(path.join(footage, 'manifest.json'))) {
  const src = ClipDataset.open(newRoom);
  const m = src.manifest;
  const w = new ClipDatasetWriter(
    footage,
    { frames: m.frames, height: m.height, width: m.width },
    { actions: m.actions },
  );
  for (const split of ['train', 'val'] as const) {
    for (let i = 0; i < src.count(split); i++) w.add(split, src.readBatch(split, [i]).frames, -1);
  }
  w.finish({ generator: 'bench:adapt', from: 'new-room', labels: 'removed' });
}

// Runs of an earlier layout (one raw-teacher run, no teacher in its name) keep their results.
if (fs.existsSync(path.join(cache, 'finetuned')) && !fs.existsSync(path.join(cache, 'finetuned-raw'))) {
  fs.renameSync(path.join(cache, 'finetuned'), path.join(cache, 'finetuned-raw'));
  if (fs.existsSync(path.join(cache, 'eval-finetuned.json'))) {
    fs.renameSync(path.join(cache, 'eval-finetuned.json'), path.join(cache, 'eval-finetuned-raw.json'));
  }
}

async function finetuned(name: string): Promise<string> {
  const run = path.join(cache, `finetuned-${name}`);
  const file = path.join(run, 'checkpoint.pt');
  if (fs.existsSync(file) && readCheckpointMeta(file).state.phase === 'done') return file;
  log(`fine-tuning ${path.relative(process.cwd(), base)} on the unlabeled new room (${steps} steps, ${name})…`);
  fs.rmSync(run, { recursive: true, force: true });
  await train({
    data: footage,
    out: run,
    base,
    overrides: deepMerge(
      {
        minimax: { steps },
        init: { maxStepsTB: Math.max(10, Math.round(steps / 2)) },
        checkpoint: { every: Math.max(5, Math.round(steps / 10)), snapshotEvery: 0 },
        eval: { every: Math.max(5, Math.round(steps / 10)), batches: 2 },
        threads,
      },
      VARIANTS[name]!.overrides,
    ),
    onWarning: (w) => log(`  ${w}`),
  });
  return file;
}

/** Fresh probes trained on the new room's anonymized training clips, tested on `split`. */
async function evalOn(name: string, anonymizer: string, split: 'val' | 'test'): Promise<EvalResult> {
  const file = path.join(cache, split === 'test' ? `eval-${name}.json` : `eval-${name}-val.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as EvalResult;
  log(`evaluating ${name} on the new room's ${split} split…`);
  const r = await evaluate({
    data: newRoom,
    anonymizer,
    protocol: 'known',
    budget: probes,
    seed: 0,
    threads,
    ...(split === 'val' ? { testSplit: 'val' as const } : {}),
  });
  writeJsonAtomic(file, r);
  return r;
}

interface Row {
  name: string;
  val: EvalResult;
  test: EvalResult;
}
const rowOf = async (name: string, anonymizer: string): Promise<Row> => ({
  name,
  val: await evalOn(name, anonymizer, 'val'),
  test: await evalOn(name, anonymizer, 'test'),
});
const rawRow = await rowOf('raw', 'raw');
const baseRow = await rowOf('base', base);
const tuned: Row[] = [];
for (const name of variants) tuned.push(await rowOf(`finetuned-${name}`, await finetuned(name)));

const person = (r: EvalResult) => r.groups.person?.privacy_cmap ?? Number.NaN;
const room = (r: EvalResult) => r.groups.room?.privacy_cmap ?? Number.NaN;
// Selection on validation only (the test split is never looked at to choose): the lowest person
// cMAP among the variants whose action top-1 stays within 2 points of the base model's.
const eligible = tuned.filter((r) => r.val.action_top1 >= baseRow.val.action_top1 - 0.02);
const selected = eligible.sort((x, y) => person(x.val) - person(y.val))[0] ?? null;
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : (100 * v).toFixed(1));
const points = (a: number, b: number) => (100 * (a - b)).toFixed(1);
const labelOf = (row: Row) =>
  row.name === 'raw' ? 'raw' : row.name === 'base' ? 'base model' : VARIANTS[row.name.replace('finetuned-', '')]!.label;
const ctx = machineContext();
const md = `## Room adaptation, SynthRoom \`${preset}\` new room (\`npm run bench:adapt -- --preset ${preset}\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(' · ')}

Base: \`${path.relative(path.dirname(benchDir), base)}\`; fine-tuned ${steps} minimax steps on the new room's training clips
with all labels removed (SSL budget branch on the room's frames, distillation from the frozen base
action model; its teacher sees raw clips, or the clips through the frozen base f_A). Fresh target
models (${JSON.stringify(probes)}) are trained on the new room's anonymized training clips and tested on its
validation split (used to select) and its test split (reported).

${mdTable(
  [
    'anonymizer',
    'val action ↑',
    'val person ↓',
    'val room ↓',
    'test action ↑',
    'test person ↓',
    'test room ↓',
    'flicker',
  ],
  [rawRow, baseRow, ...tuned].map((row) => [
    row === selected ? `**${labelOf(row)}** (selected)` : labelOf(row),
    pct(row.val.action_top1),
    pct(person(row.val)),
    pct(room(row.val)),
    pct(row.test.action_top1),
    pct(person(row.test)),
    pct(room(row.test)),
    row.test.flicker.toFixed(2),
  ]),
)}

Fine-tuned minus base on the test split (points): ${tuned
  .map(
    (row) =>
      `${labelOf(row)}: action ${points(row.test.action_top1, baseRow.test.action_top1)}, person ${points(
        person(row.test),
        person(baseRow.test),
      )}, room ${points(room(row.test), room(baseRow.test))}`,
  )
  .join('; ')}.

Selection (validation split only): the lowest person cMAP among variants whose action top-1 is within
2 points of the base model's: ${selected ? labelOf(selected) : 'none qualifies'}.
`;
writeResults(`adapt-${preset}`, md, {
  context: ctx,
  preset,
  steps,
  base,
  variants: Object.fromEntries(variants.map((v) => [v, VARIANTS[v]])),
  selected: selected?.name ?? null,
  rows: [rawRow, baseRow, ...tuned],
});
log('done');
