// `npm run bench:adapt [-- --preset small|tiny] [--base RUN_DIR] [--steps N] [--variants NAME,…]
//   [--room FILE [--room-steps N] [--room-size N|auto]]`: room adaptation measured on SynthRoom's
// held-out "new room" split. The base model (the SynthRoom model, or
// --base) is fine-tuned on the new room's training clips with their labels removed — no privacy
// and no action labels, as an operator would have — then base and fine-tuned anonymizers are
// evaluated with the paper's protocol on the new room (fresh action model and attackers trained on
// its anonymized training clips, tested on its test clips). One fine-tune per variant (the
// distillation teacher's input: raw clips, or clips through the frozen base f_A; f_A's minimax
// rate), at the same budget and seed; one is selected on the validation split. Each fine-tune's
// wall time is split by phase (the run's timings.json). --room FILE adds the real-footage recipe:
// finetune() with the room recipe on FILE from the default model, its time split from sampling and
// the judges' pseudo-label pass to the checkpoint selection on held-out footage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Judges } from '../electron/core/privacy-audit/judges.js';
import { FINETUNE_PHASES, finetune, ROOM_DEFAULT_STEPS } from '../electron/core/training/finetune.js';
import {
  ClipDataset,
  ClipDatasetWriter,
  deepMerge,
  defaultModelDir,
  synthroomModelDir,
  evaluate,
  fileSha256,
  generateSynthRoom,
  readCheckpointMeta,
  readRunTimings,
  resolveCheckpointPath,
  train,
  TRAIN_PHASES,
  type EvalResult,
  type RunTimings,
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
const roomFootage = arg('--room') ? path.resolve(arg('--room')!) : null;
const roomSteps = Number(arg('--room-steps') ?? ROOM_DEFAULT_STEPS);
const roomSizeArg = arg('--room-size') ?? 'auto';
const roomSize = roomSizeArg === 'auto' ? ('auto' as const) : Number(roomSizeArg);
if (roomFootage && !fs.existsSync(roomFootage)) throw new Error(`--room: ${roomFootage} not found`);
if (!(Number.isInteger(roomSteps) && roomSteps >= 1)) throw new Error('--room-steps must be a positive integer');
if (roomSize !== 'auto' && !(Number.isInteger(roomSize) && roomSize >= 112))
  throw new Error('--room-size must be auto or an integer ≥ 112');
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

// ---- where a fine-tune's wall time goes (each run's timings.json) ----
type PhaseName = (typeof FINETUNE_PHASES)[number];
const PHASE_HEADERS: Record<PhaseName, string> = {
  prepare: 'prepare',
  sample: 'sampling',
  label: 'pseudo-labels',
  load: 'load',
  initA: 'init f_A',
  initTB: 'init f_T·f_B',
  minimax: 'minimax',
  eval: 'evaluations',
  checkpoint: 'checkpoints',
  select: 'selection',
};
const phaseValue = (t: RunTimings, p: PhaseName) => t.total.phaseSeconds[p] ?? 0;
const otherSeconds = (t: RunTimings) =>
  Math.max(0, t.total.wallSeconds - Object.values(t.total.phaseSeconds).reduce((a, b) => a + b, 0));
const secondsCell = (v: number, total: number) =>
  `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} s${total > 0 ? ` (${((100 * v) / total).toFixed(0)}%)` : ''}`;
/** One row: the phases asked for, what no phase holds (logging, progress), the wall time. */
const phaseRow = (label: string, t: RunTimings | null, phases: readonly PhaseName[]): string[] =>
  t
    ? [
        label,
        ...phases.map((p) => secondsCell(phaseValue(t, p), t.total.wallSeconds)),
        secondsCell(otherSeconds(t), t.total.wallSeconds),
        `${(t.total.wallSeconds / 60).toFixed(1)} min`,
      ]
    : [label, ...phases.map(() => '–'), '–', '– (run before phases were timed)'];
const logSplit = (name: string, t: RunTimings | null) => {
  if (!t) return;
  const parts = FINETUNE_PHASES.filter((p) => phaseValue(t, p) > 0).map(
    (p) => `${PHASE_HEADERS[p]} ${phaseValue(t, p).toFixed(1)} s`,
  );
  log(`  ${name}: ${t.total.wallSeconds.toFixed(1)} s — ${parts.join(', ')}, other ${otherSeconds(t).toFixed(1)} s`);
};

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
const timings: Record<string, RunTimings | null> = {};
for (const name of variants) {
  const file = await finetuned(name);
  timings[name] = readRunTimings(path.dirname(file));
  logSplit(name, timings[name]);
  tuned.push(await rowOf(`finetuned-${name}`, file));
}

// ---- the real-footage recipe: finetune() with the room recipe, as the app runs it ----
interface RoomRun {
  footage: string;
  steps: number;
  size: number | 'auto';
  workingSize: number | null;
  judgesLoadSeconds: number;
  frames: number;
  selection: boolean;
  timings: RunTimings | null;
}
async function roomRun(footage: string): Promise<RoomRun> {
  const baseModel = resolveCheckpointPath(defaultModelDir());
  const key = `${fileSha256(footage).slice(0, 12)}-${fileSha256(baseModel).slice(0, 8)}-${roomSteps}-${roomSize}`;
  const run = path.join(benchDir, '.cache', `adapt-room-${key}`);
  const summary = path.join(run, 'bench-room.json');
  if (fs.existsSync(summary)) return JSON.parse(fs.readFileSync(summary, 'utf8')) as RoomRun;
  fs.rmSync(run, { recursive: true, force: true });
  const since = performance.now();
  const judges = await Judges.load();
  const judgesLoadSeconds = (performance.now() - since) / 1000;
  log(
    `room recipe: fine-tuning the default model on ${path.basename(footage)} (${roomSteps} steps, size ${roomSize})…`,
  );
  const r = await finetune({
    footage: [footage],
    base: baseModel,
    out: run,
    recipe: 'room',
    steps: roomSteps,
    size: roomSize,
    judges,
    // Pseudo-labels are labelled anew (a shared cache would hide the labelling time).
    cacheDir: path.join(run, 'judges-cache'),
    overrides: { threads },
    onStatus: (m) => log(`  ${m}`),
    onWarning: (w) => log(`  warning: ${w}`),
  });
  const manifest = JSON.parse(fs.readFileSync(path.join(run, 'footage-data', 'room.json'), 'utf8')) as {
    frames: number;
  };
  const result: RoomRun = {
    footage,
    steps: roomSteps,
    size: roomSize,
    workingSize: r.workingSize ?? null,
    judgesLoadSeconds,
    frames: manifest.frames,
    selection: Boolean(r.selection),
    timings: readRunTimings(run),
  };
  writeJsonAtomic(summary, result);
  return result;
}
const roomRecipe = roomFootage ? await roomRun(roomFootage) : null;
if (roomRecipe) logSplit('room recipe', roomRecipe.timings);

const person = (r: EvalResult) => r.groups.person?.privacy_cmap ?? Number.NaN;
const room = (r: EvalResult) => r.groups.room?.privacy_cmap ?? Number.NaN;
// Selection on validation only (the test split is never looked at to choose): the lowest person
// cMAP among the variants whose action top-1 stays within 2 points of the base model's.
const eligible = tuned.filter((r) => r.val.action_top1 >= baseRow.val.action_top1 - 0.02);
const selected = eligible.sort((x, y) => person(x.val) - person(y.val))[0] ?? null;
/** The phases a SynthRoom fine-tune of a trained base goes through (it has no f_A init). */
const SYNTH_PHASES = TRAIN_PHASES.filter((p) => p !== 'initA');
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

Fine-tune wall time by phase (${threads} threads; each run's \`timings.json\`): load = data, networks and
base weights; init f_T·f_B = f_B learning the room (and f_T, when adapted) before the minimax;
evaluations and checkpoints are those made during the run; other = logging and progress. The
footage here is already clips at the model's size: no sampling and no pseudo-labels.

${mdTable(
  ['fine-tune', ...SYNTH_PHASES.map((p) => PHASE_HEADERS[p]), 'other', 'total'],
  variants.map((v) => phaseRow(VARIANTS[v]!.label, timings[v] ?? null, SYNTH_PHASES)),
)}
${
  roomRecipe
    ? `
Real-footage recipe: \`finetune()\` with the room recipe (\`--room ${path.relative(process.cwd(), roomRecipe.footage)}\`), the
default model as base, ${roomRecipe.steps} minimax steps, working size ${roomRecipe.size === 'auto' ? `auto → ${roomRecipe.workingSize} px` : `${roomRecipe.size} px`},
${roomRecipe.frames} frames labelled afresh (no cached pseudo-labels${roomRecipe.timings ? `: ${((roomRecipe.timings.total.phaseSeconds.label ?? 0) / roomRecipe.frames).toFixed(2)} s per frame` : ''}), ${roomRecipe.selection ? 'checkpoint chosen on held-out footage' : 'no held-out part (footage under 12 s): no selection'}.
prepare = checks and measuring the people for the working size; sampling = decoding and writing
the frames (waiting for the decoder); pseudo-labels = the person and pose judges and tracking on
every frame; init f_A = the identity init of a new f_A (none from a trained base); init f_T·f_B =
the utility student f_U and the identity budget f_Bid learning the room; selection = the privacy
audit of each snapshot and the base on held-out footage. The judges' loading (${roomRecipe.judgesLoadSeconds.toFixed(1)} s,
once per app session) is not in the table.

${mdTable(
  ['fine-tune', ...FINETUNE_PHASES.map((p) => PHASE_HEADERS[p]), 'other', 'total'],
  [phaseRow('room recipe', roomRecipe.timings, FINETUNE_PHASES)],
)}
`
    : ''
}`;
writeResults(`adapt-${preset}`, md, {
  context: ctx,
  preset,
  steps,
  base,
  variants: Object.fromEntries(variants.map((v) => [v, VARIANTS[v]])),
  selected: selected?.name ?? null,
  rows: [rawRow, baseRow, ...tuned],
  timings,
  room: roomRecipe,
});
log('done');
