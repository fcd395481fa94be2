// `npm run bench:privacy [-- --preset tiny|small|full] [--skip-ablations] [--skip-novel-action]
// [--methods spact,supervised,spact-frozen-fB] [--ship-default] [--report]`: the paper's Table 1 /
// Fig. 4 on SynthRoom. `--methods` limits which learned anonymizers are trained in this run and
// `--report` trains nothing; either way the table shows every result in the cache and names the
// methods that have none yet. Every method gets the same budgets: the same training steps for the learned
// anonymizers (SPAct, SPAct with frozen f_B, supervised budget), the same model-selection rule
// (validation trade-off with fresh probes, never the test split), and the same target-model
// training for evaluation. Intermediate results are cached under bench/.cache/, so an interrupted
// run continues where it stopped.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  BASELINES,
  ClipDataset,
  ClipDatasetWriter,
  deepMerge,
  evaluate,
  exportWeightsOnly,
  synthroomModelDir,
  generateSynthRoom,
  PERSON_ATTRIBUTES,
  readBoxes,
  readCheckpointMeta,
  runCandidates,
  selectCheckpoint,
  selectionWarnings,
  train,
  type EvalResult,
  type ProbeBudget,
  type Selection,
  type Split,
  type SynthDatasetName,
  type SynthPreset,
  type TrainConfigOverrides,
} from '../native-models/ts/index.js';
import {
  benchArg,
  benchDir,
  machineContext,
  mdTable,
  writeAtomic,
  writeJsonAtomic,
  writeResults,
} from './results-file.js';

const argv = process.argv.slice(2);
const arg = benchArg;
const preset = (arg('--preset') ?? 'small') as SynthPreset;
const skipAblations = argv.includes('--skip-ablations');
// Copy the selected SPAct model to native-models/models/synthroom with its model card.
const shipDefault = argv.includes('--ship-default');
// Learned anonymizers are not retrained on the known-action split (the novel-action column then
// shows baselines only, unless cached).
const skipNovelAction = argv.includes('--skip-novel-action');
const reportOnly = argv.includes('--report');
const methodFilter = arg('--methods')?.split(',').filter(Boolean) ?? null;
const seed = 0;
const threads = Math.min(2, os.availableParallelism());

interface Budget {
  train: TrainConfigOverrides;
  probes: ProbeBudget;
  select: Partial<ProbeBudget>;
  /** The bench runs on the first clips of each split of the generated SynthRoom (actions stay
   *  balanced: clip i has action i mod K); absent: the whole preset. */
  clips?: Record<SynthDatasetName, Partial<Record<Split, number>>>;
}

// Training and probe budgets per preset (identical for every method within a preset).
const BUDGETS: Record<SynthPreset, Budget> = {
  // A smoke test of the whole pipeline (CI): numbers at this size are noise. Every phase runs
  // (inits, minimax with two snapshots to select from, selection, evaluation) at the least cost:
  // anonymizing clips for the probes is most of it, hence a subset of the tiny SynthRoom.
  tiny: {
    train: {
      data: { batchSize: 4, clipFrames: 8, frameStride: 2 },
      init: { maxStepsA: 4, maxStepsTB: 3 },
      minimax: { steps: 4 },
      eval: { every: 4, batches: 1 },
      checkpoint: { every: 4, snapshotEvery: 2 },
    },
    probes: { actionEpochs: 1, attackerEpochs: 1, batchSize: 16, maxTrainClips: 32 },
    select: { actionEpochs: 1, attackerEpochs: 1, batchSize: 16, maxTrainClips: 16 },
    clips: {
      main: { train: 60, val: 30, test: 40 },
      'known-action': { train: 36, val: 18 },
      'novel-action': { train: 32, test: 24 },
      'new-room': { train: 32, val: 12, test: 24 },
    },
  },
  small: {
    train: {
      data: { batchSize: 8, clipFrames: 8, frameStride: 2 },
      init: { maxStepsA: 600, maxStepsTB: 1600 },
      minimax: { steps: 300, lrA: 1e-4 },
      eval: { every: 25, batches: 4 },
      checkpoint: { every: 50, snapshotEvery: 50 },
    },
    probes: { actionEpochs: 12, attackerEpochs: 8, batchSize: 16, maxTrainClips: 1200 },
    select: { actionEpochs: 6, attackerEpochs: 4, batchSize: 16, maxTrainClips: 400 },
  },
  full: {
    train: {
      data: { batchSize: 8, clipFrames: 8, frameStride: 2 },
      init: { maxStepsA: 2000, maxStepsTB: 1000 },
      minimax: { steps: 3000 },
      eval: { every: 100, batches: 8 },
      checkpoint: { every: 250, snapshotEvery: 500 },
    },
    probes: { actionEpochs: 10, attackerEpochs: 10, batchSize: 16, maxTrainClips: null },
    select: { actionEpochs: 4, attackerEpochs: 4, batchSize: 16, maxTrainClips: 1000 },
  },
};

const budget = BUDGETS[preset];
if (!budget) throw new Error(`unknown preset "${preset}"`);
// The cache is keyed by the budgets: changing one never mixes old and new results. Baseline
// results depend only on the data and the evaluation budget, so a new training budget reuses them.
const hashOf = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 8);
const cache = path.join(
  benchDir,
  '.cache',
  `privacy-${preset}-${hashOf(budget.clips ? { probes: budget.probes, clips: budget.clips } : budget.probes)}`,
);
const learnedCache = path.join(cache, `learned-${hashOf({ train: budget.train, select: budget.select })}`);
const data = path.join(cache, 'synthroom');
fs.mkdirSync(learnedCache, { recursive: true });
const log = (m: string) => process.stderr.write(`[bench:privacy ${preset}] ${m}\n`);

// Learned anonymizers' runs and results live in learnedCache, the baselines' in cache.
function readCached<T>(dir: string, name: string): T | null {
  const file = path.join(dir, `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : null;
}

async function cached<T>(dir: string, name: string, fn: () => Promise<T>): Promise<T> {
  const hit = readCached<T>(dir, name);
  if (hit !== null) return hit;
  const value = await fn();
  writeJsonAtomic(path.join(dir, `${name}.json`), value);
  return value;
}

// ---- data ----
if (!fs.existsSync(path.join(data, 'synthroom.json'))) {
  log('generating SynthRoom…');
  if (budget.clips) {
    const whole = `${data}.whole`;
    await generateSynthRoom({ out: whole, preset, seed });
    log('keeping the first clips of each split…');
    subsetSynthRoom(whole, data, budget.clips);
    fs.rmSync(whole, { recursive: true, force: true });
  } else await generateSynthRoom({ out: data, preset, seed });
}

/** The first `clips` clips of each split of a SynthRoom folder (labels, boxes and manifest meta
 *  kept); synthroom.json, the mark of a complete folder, is written last. */
function subsetSynthRoom(from: string, to: string, clips: NonNullable<Budget['clips']>): void {
  fs.rmSync(to, { recursive: true, force: true });
  let total = 0;
  for (const [name, counts] of Object.entries(clips)) {
    const src = ClipDataset.open(path.join(from, name));
    const m = src.manifest;
    const writer = new ClipDatasetWriter(
      path.join(to, name),
      { frames: m.frames, height: m.height, width: m.width },
      { actions: m.actions, multiLabel: m.multiLabel, privacyAttributes: m.privacyAttributes },
    );
    const boxes = readBoxes(path.join(from, name)) ?? {};
    const keptBoxes: typeof boxes = {};
    for (const [split, count] of Object.entries(counts) as [Split, number][]) {
      const n = Math.min(count, src.count(split));
      const labels = m.labels[split]!;
      for (let i = 0; i < n; i++)
        writer.add(split, src.readBatch(split, [i]).frames, labels.actions[i]!, labels.privacy?.[i]);
      if (boxes[split]) keptBoxes[split] = boxes[split].slice(0, n);
      total += n;
    }
    fs.writeFileSync(path.join(to, name, 'boxes.json'), JSON.stringify(keptBoxes));
    writer.finish(m.meta);
  }
  const info = JSON.parse(fs.readFileSync(path.join(from, 'synthroom.json'), 'utf8')) as Record<string, unknown>;
  writeJsonAtomic(path.join(to, 'synthroom.json'), {
    ...info,
    out: path.resolve(to),
    datasets: clips,
    clips: total,
    subsetOf: { out: info.out, datasets: info.datasets, clips: info.clips },
  });
}

// ---- learned anonymizers: train → select on validation → evaluate on test ----
interface Method {
  name: string;
  dataset: 'main' | 'known-action';
  overrides: TrainConfigOverrides;
}

const personOnly = PERSON_ATTRIBUTES;
const learned: Method[] = [
  { name: 'spact', dataset: 'main', overrides: {} },
  { name: 'spact-frozen-fB', dataset: 'main', overrides: { budget: { freeze: true } } },
  { name: 'supervised', dataset: 'main', overrides: { budget: { loss: 'supervised', attributes: personOnly } } },
];
const novelActionLearned: Method[] = [
  { name: 'spact', dataset: 'known-action', overrides: {} },
  {
    name: 'supervised',
    dataset: 'known-action',
    overrides: { budget: { loss: 'supervised', attributes: personOnly } },
  },
];
// Cheap ablations (paper Tables 4–5 and the ω sweep). SynthRoom clips have 16 frames, so the
// sampler distances are scaled: "near" < 4 frames apart, "far" > 8 apart.
const ablations: Method[] = skipAblations
  ? []
  : [
      { name: 'omega-0.25', dataset: 'main', overrides: { minimax: { omega: 0.25 } } },
      { name: 'omega-1.0', dataset: 'main', overrides: { minimax: { omega: 1 } } },
      { name: 'sampler-near', dataset: 'main', overrides: { sampler: { strategy: 'near', nearMax: 4 } } },
      { name: 'sampler-far', dataset: 'main', overrides: { sampler: { strategy: 'far', farMin: 8 } } },
      { name: 'ssl-moco', dataset: 'main', overrides: { budget: { loss: 'moco', temperature: 0.1, mocoQueue: 256 } } },
      { name: 'ssl-rotnet', dataset: 'main', overrides: { budget: { loss: 'rotnet' } } },
    ];

// Raw clips on a dataset's validation split with the selection's probes: the reference every
// method's selection compares with, the same for all of them (computed once per dataset).
async function rawVal(dataset: Method['dataset']): Promise<{ action_top1: number; privacy_cmap: number }> {
  return cached(learnedCache, `select-raw-${dataset}`, async () => {
    log(`probing raw validation clips of ${dataset} for the selections…`);
    const r = await evaluate({
      data: path.join(data, dataset),
      anonymizer: 'raw',
      protocol: 'known',
      testSplit: 'val',
      budget: budget.select,
      seed,
      threads,
    });
    return { action_top1: r.action_top1, privacy_cmap: r.privacy_cmap };
  });
}

async function trainAndSelect(m: Method): Promise<{ checkpoint: string; selection: unknown; trainSeconds: number }> {
  const runDir = path.join(learnedCache, 'runs', `${m.dataset}-${m.name}`);
  const dataDir = path.join(data, m.dataset);
  return cached(learnedCache, `select-${m.dataset}-${m.name}`, async () => {
    const t0 = performance.now();
    const done =
      fs.existsSync(path.join(runDir, 'checkpoint.pt')) &&
      readCheckpointMeta(path.join(runDir, 'checkpoint.pt')).state.phase === 'done';
    if (!done) {
      log(`training ${m.name} on ${m.dataset}…`);
      await train({
        data: dataDir,
        out: runDir,
        resume: fs.existsSync(path.join(runDir, 'checkpoint.pt')),
        overrides: deepMerge({ ...structuredClone(budget.train), threads, seed }, m.overrides),
        onWarning: (w) => log(`  ${w}`),
      });
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    log(`selecting the ${m.name} checkpoint on validation…`);
    const selection = await selectCheckpoint({
      data: dataDir,
      candidates: runCandidates(runDir),
      budget: budget.select,
      rawVal: await rawVal(m.dataset),
      evalOptions: { seed, threads },
      onProgress: (p) => log(`  ${p}`),
    });
    return { checkpoint: selection.chosen, selection, trainSeconds };
  });
}

async function evalOn(
  name: string,
  anonymizer: string,
  protocol: 'known' | 'novel-action',
  dir = learnedCache,
): Promise<EvalResult> {
  return cached(dir, `eval-${protocol}-${name}`, async () => {
    log(`evaluating ${name} (${protocol})…`);
    return evaluate({
      data,
      anonymizer,
      protocol,
      budget: budget.probes,
      seed,
      threads,
      skipPrivacy: protocol === 'novel-action',
    });
  });
}

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '–');
const drop = (v: number, ref: number) => (Number.isFinite(v) && ref > 0 ? `${(100 * (1 - v / ref)).toFixed(0)}%` : '–');
const room = (r: EvalResult) => r.groups.room?.privacy_cmap ?? Number.NaN;

const t0 = performance.now();
const rows: { name: string; known: EvalResult; novelAction: EvalResult | null }[] = [];
const notRun: string[] = [];
for (const b of BASELINES) {
  if (reportOnly) {
    const known = readCached<EvalResult>(cache, `eval-known-${b}`);
    if (known) rows.push({ name: b, known, novelAction: readCached<EvalResult>(cache, `eval-novel-action-${b}`) });
    else notRun.push(b);
    continue;
  }
  rows.push({
    name: b,
    known: await evalOn(b, b, 'known', cache),
    novelAction: await evalOn(b, b, 'novel-action', cache),
  });
}
if (!rows.some((r) => r.name === 'raw')) throw new Error('no raw result in the cache yet: run without --report');
const selections: Record<string, unknown> = {};
for (const m of learned) {
  const novel = novelActionLearned.find((n) => n.name === m.name);
  const runNow = !reportOnly && (methodFilter === null || methodFilter.includes(m.name));
  if (runNow) {
    const sel = await trainAndSelect(m);
    if (novel && !skipNovelAction) {
      const nsel = await trainAndSelect(novel);
      await evalOn(`${m.name}-known-action`, nsel.checkpoint, 'novel-action');
    }
    await evalOn(m.name, sel.checkpoint, 'known');
  }
  // Every method's row comes from the cache, whether it was computed now or by an earlier run.
  const known = readCached<EvalResult>(learnedCache, `eval-known-${m.name}`);
  if (!known) {
    notRun.push(m.name);
    continue;
  }
  selections[m.name] = readCached<{ selection: unknown }>(learnedCache, `select-${m.dataset}-${m.name}`)?.selection;
  rows.push({
    name: m.name,
    known,
    novelAction: novel ? readCached<EvalResult>(learnedCache, `eval-novel-action-${m.name}-known-action`) : null,
  });
  // Shipped as soon as SPAct is evaluated, so the default model never waits for the comparisons
  // (with --report, re-shipped from the cache: same checkpoint, refreshed card).
  if (m.name === 'spact' && shipDefault && (runNow || reportOnly)) {
    const sel = await trainAndSelect(m);
    await shipDefaultModel(sel.selection as Selection, rows.find((r) => r.name === 'raw')!.known, known);
  }
}
const ablationRows: { name: string; known: EvalResult }[] = [];
for (const m of ablations) {
  if (!reportOnly) {
    const sel = await trainAndSelect(m);
    await evalOn(m.name, sel.checkpoint, 'known');
  }
  const known = readCached<EvalResult>(learnedCache, `eval-known-${m.name}`);
  if (known) ablationRows.push({ name: m.name, known });
  else notRun.push(`ablation ${m.name}`);
}
const minutes = (performance.now() - t0) / 60000;

// ---- report ----
const raw = rows.find((r) => r.name === 'raw')!.known;
const table = mdTable(
  [
    'method',
    'action top-1 ↑',
    'person cMAP ↓ (drop)',
    'person F1 ↓',
    'room cMAP ↓ (drop) — novel privacy',
    'novel-action top-1 ↑',
    'flicker',
    'worst attacker',
  ],
  rows.map(({ name, known, novelAction }) => [
    name,
    pct(known.action_top1),
    `${pct(known.privacy_cmap)} (${drop(known.privacy_cmap, raw.privacy_cmap)})`,
    known.privacy_f1.toFixed(3),
    `${pct(room(known))} (${drop(room(known), room(raw))})`,
    novelAction ? pct(novelAction.action_top1) : '–',
    known.flicker.toFixed(2),
    known.worst_attacker,
  ]),
);
const spactRow = rows.find((r) => r.name === 'spact');
const ablationTable =
  ablationRows.length && spactRow
    ? mdTable(
        ['ablation', 'action top-1 ↑', 'person cMAP ↓ (drop)', 'room cMAP ↓'],
        [
          [
            'spact (ω 0.5, random pairs, NT-Xent)',
            pct(spactRow.known.action_top1),
            pct(spactRow.known.privacy_cmap),
            pct(room(spactRow.known)),
          ],
          ...ablationRows.map(({ name, known }) => [
            name,
            pct(known.action_top1),
            `${pct(known.privacy_cmap)} (${drop(known.privacy_cmap, raw.privacy_cmap)})`,
            pct(room(known)),
          ]),
        ],
      )
    : '(skipped)';

fs.mkdirSync(path.join(benchDir, 'results'), { recursive: true });
const svgFile = `privacy-${preset}-tradeoff.svg`;
fs.writeFileSync(
  path.join(benchDir, 'results', svgFile),
  tradeoffSvg([...rows, ...ablationRows.map((a) => ({ ...a, novelAction: null }))]),
);

const ctx = machineContext();
// With --report the numbers come from earlier runs: say so instead of a meaningless 0 min.
const provenance = reportOnly
  ? `table rebuilt from the cached results of earlier runs (\`npm run bench:privacy -- ${argv.join(' ')}\`)`
  : `total ${minutes.toFixed(0)} min (\`npm run bench:privacy -- ${argv.join(' ')}\`)`;
const md = `## Privacy benchmark, SynthRoom \`${preset}\` (\`npm run bench:privacy -- --preset ${preset}\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(' · ')} · ${provenance}

Known-attribute protocol (person attributes) and novel-privacy protocol (room attributes, never a
target of any anonymizer), test split; novel-action protocol: f_A trained on the known action set,
target action model trained and tested on the disjoint novel set. Privacy = worst case over two
fresh attackers (2D CNN, colour-histogram MLP). Learned anonymizers: edge preset, same training
budget (${JSON.stringify(budget.train.minimax)}), checkpoint chosen by the validation rule
(\`native-models/ts/eval/select.ts\`). Target models: ${JSON.stringify(budget.probes)}.${budget.clips ? `\nData: the first clips of each split of SynthRoom \`${preset}\` (${JSON.stringify(budget.clips)}).` : ''}

${table}
${notRun.length ? `\nNot run yet (no result in the cache): ${notRun.join(', ')}.\n` : ''}${selectionNotes()}
Ablations (known protocol):

${ablationTable}

Trade-off plot: [\`results/${svgFile}\`](results/${svgFile}) (action top-1 vs person cMAP; up and left is better).
`;
writeResults(`privacy-${preset}`, md, {
  context: ctx,
  preset,
  budget,
  rows,
  ablations: ablationRows,
  selections,
  notRun,
  minutes,
});
log(`done in ${minutes.toFixed(0)} min`);

// The selected SPAct checkpoint becomes the shipped default model (weights only, with its card).
async function shipDefaultModel(selection: Selection, raw: EvalResult, spact: EvalResult): Promise<void> {
  const selected = selection.chosen;
  const dir = synthroomModelDir();
  fs.mkdirSync(dir, { recursive: true });
  const candidate = path.join(learnedCache, 'spact-selected.pt');
  await exportWeightsOnly(selected, candidate, { selectedFrom: path.basename(selected), bench: `privacy-${preset}` });
  fs.copyFileSync(candidate, path.join(dir, 'checkpoint.pt.tmp'));
  fs.renameSync(path.join(dir, 'checkpoint.pt.tmp'), path.join(dir, 'checkpoint.pt'));
  const meta = readCheckpointMeta(path.join(dir, 'checkpoint.pt'));
  const card = `# Model card: SPAct Desktop SynthRoom anonymizer (\`--model synthroom\`)

- **What**: the learned anonymizer f_A (UNet ${meta.config.model.fA.widths.join('-')}), with the f_T and f_B it was
  trained against (kept as the base for room fine-tuning). Weights only (no optimizer state).
- **Method**: SPAct minimax (self-supervised NT-Xent budget branch, no privacy labels), edge preset.
- **Data**: SynthRoom \`${preset}\`${budget.clips ? ` (the first ${JSON.stringify(budget.clips.main)} clips)` : ''}, seed ${seed}, dataset \`main\` (train split for training, val split for
  checkpoint selection; the test split was never used for any choice).
- **Command**: \`npm run bench:privacy -- --preset ${preset} --skip-ablations --methods spact --ship-default\` (trains with
  \`train()\` from native-models/ts/trainer.ts, the same loop as \`spact train\`; budget
  ${JSON.stringify(budget.train.minimax)}, threads ${threads}, seed ${seed}).
- **Selected checkpoint**: ${String(meta.extra?.selectedFrom ?? '')} by the validation trade-off rule
  (${selection.rule}; budget ${JSON.stringify(budget.select)}).${selectionWarnings(
    selection.rawVal.action_top1,
    numActionsOf(),
  )
    .map((w) => `\n  **Warning**: ${w}.`)
    .join('')}
- **Input**: RGB frames of any size (reflect-padded to a multiple of ${2 ** (meta.config.model.fA.widths.length - 1)}); trained at
  ${fs.existsSync(path.join(data, 'synthroom.json')) ? (JSON.parse(fs.readFileSync(path.join(data, 'synthroom.json'), 'utf8')) as { size: number }).size : '?'}² pixels.

## Metrics (SynthRoom ${preset} test split, fresh target models, worst case over attackers)

| | raw | this model |
|---|---|---|
| action top-1 | ${pct(raw.action_top1)} | ${pct(spact.action_top1)} |
| person-attribute cMAP | ${pct(raw.privacy_cmap)} | ${pct(spact.privacy_cmap)} |
| room-attribute cMAP (novel privacy) | ${pct(room(raw))} | ${pct(room(spact))} |
| flicker (temporal change vs raw) | 1.00 | ${spact.flicker.toFixed(2)} |

Full table with baselines: bench/RESULTS.md, section "Privacy benchmark, SynthRoom \`${preset}\`".

## Limits

Trained on synthetic rooms only: real footage differs (textures, faces, lighting). Fine-tune it to a
room with \`spact finetune\` and check it there with the privacy audit before relying on it.
`;
  writeAtomic(path.join(dir, 'MODEL_CARD.md'), card);
  log(`shipped the SynthRoom model to ${dir}`);
}

function numActionsOf(): number {
  return (JSON.parse(fs.readFileSync(path.join(data, 'synthroom.json'), 'utf8')) as { actions: string[] }).actions
    .length;
}

// Checkpoint selection on validation, per learned method, with the rule's own doubts.
function selectionNotes(): string {
  const numActions = numActionsOf();
  const lines = Object.entries(selections).map(([name, sel]) => {
    const s = sel as Selection;
    const cands = s.candidates
      .map((c) => `${path.basename(c.checkpoint, '.pt')} ${pct(c.action_top1)}/${pct(c.privacy_cmap)}`)
      .join(', ');
    const warn = selectionWarnings(s.rawVal.action_top1, numActions);
    return (
      `- ${name}: chose \`${path.basename(s.chosen)}\` (validation action/privacy: raw ${pct(s.rawVal.action_top1)}/` +
      `${pct(s.rawVal.privacy_cmap)}; ${cands})${warn.length ? `. **Warning**: ${warn.join('; ')}` : ''}`
    );
  });
  return lines.length ? `\nCheckpoint selection (${JSON.stringify(budget.select)}):\n\n${lines.join('\n')}\n` : '';
}

function tradeoffSvg(points: { name: string; known: EvalResult }[]): string {
  const W = 640;
  const H = 440;
  const m = { l: 60, r: 20, t: 30, b: 50 };
  const xs = points.map((p) => p.known.privacy_cmap);
  const ys = points.map((p) => p.known.action_top1);
  const x0 = Math.max(0, Math.min(...xs) - 0.05);
  const x1 = Math.min(1, Math.max(...xs) + 0.05);
  const y0 = Math.max(0, Math.min(...ys) - 0.05);
  const y1 = Math.min(1, Math.max(...ys) + 0.05);
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const Y = (v: number) => H - m.b - ((v - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const colour = (n: string) =>
    n.startsWith('spact')
      ? '#c0392b'
      : n === 'supervised'
        ? '#8e44ad'
        : n === 'raw'
          ? '#2c3e50'
          : BASELINES.includes(n as never)
            ? '#2980b9'
            : '#e67e22';
  const dots = points
    .map(
      (p) =>
        `<circle cx="${X(p.known.privacy_cmap).toFixed(1)}" cy="${Y(p.known.action_top1).toFixed(1)}" r="5" fill="${colour(p.name)}"/>` +
        `<text x="${(X(p.known.privacy_cmap) + 7).toFixed(1)}" y="${(Y(p.known.action_top1) - 6).toFixed(1)}" font-size="11">${p.name}</text>`,
    )
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">SynthRoom ${preset}: action top-1 vs person-attribute cMAP (worst attacker)</text>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>
<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>
<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="12">privacy cMAP (↓ better), ${pct(x0)}–${pct(x1)}%</text>
<text x="16" y="${H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${H / 2})">action top-1 (↑ better), ${pct(y0)}–${pct(y1)}%</text>
${dots}
</svg>
`;
}
