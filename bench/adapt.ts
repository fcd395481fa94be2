// `npm run bench:adapt [-- --preset small|tiny] [--base RUN_DIR] [--steps N] [--teachers raw,anonymized]`: room adaptation
// measured on SynthRoom's held-out "new room" split. The base model (the shipped default, or
// --base) is fine-tuned on the new room's training clips with their labels removed — no privacy
// and no action labels, as an operator would have — then base and fine-tuned anonymizers are
// evaluated with the paper's protocol on the new room (fresh action model and attackers trained on
// its anonymized training clips, tested on its test clips). One fine-tune per distillation teacher
// (its input: raw clips, or clips anonymized by the frozen base f_A), at the same budget and seed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  ClipDataset,
  ClipDatasetWriter,
  defaultModelDir,
  evaluate,
  generateSynthRoom,
  readCheckpointMeta,
  resolveCheckpointPath,
  train,
  type DistillTeacher,
  type EvalResult,
  type SynthPreset,
} from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeJsonAtomic, writeResults } from './results-file.js';

const arg = benchArg;
const preset = (arg('--preset') ?? 'small') as SynthPreset;
const steps = Number(arg('--steps') ?? (preset === 'tiny' ? 6 : 300));
const base = resolveCheckpointPath(arg('--base') ?? defaultModelDir());
const threads = Math.min(2, os.availableParallelism());
const teachers = (arg('--teachers') ?? 'raw,anonymized').split(',') as DistillTeacher[];
for (const t of teachers) {
  if (t !== 'raw' && t !== 'anonymized') throw new Error(`--teachers: unknown teacher "${t}" (raw, anonymized)`);
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

async function finetuned(teacher: DistillTeacher): Promise<string> {
  const run = path.join(cache, `finetuned-${teacher}`);
  const file = path.join(run, 'checkpoint.pt');
  if (fs.existsSync(file) && readCheckpointMeta(file).state.phase === 'done') return file;
  log(
    `fine-tuning ${path.relative(process.cwd(), base)} on the unlabeled new room (${steps} steps, ${teacher} teacher)…`,
  );
  fs.rmSync(run, { recursive: true, force: true });
  await train({
    data: footage,
    out: run,
    base,
    overrides: {
      distill: { teacher },
      minimax: { steps },
      init: { maxStepsTB: Math.max(10, Math.round(steps / 2)) },
      checkpoint: { every: Math.max(5, Math.round(steps / 10)), snapshotEvery: 0 },
      eval: { every: Math.max(5, Math.round(steps / 10)), batches: 2 },
      threads,
    },
    onWarning: (w) => log(`  ${w}`),
  });
  return file;
}

async function evalOn(name: string, anonymizer: string): Promise<EvalResult> {
  const file = path.join(cache, `eval-${name}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as EvalResult;
  log(`evaluating ${name} on the new room…`);
  const r = await evaluate({ data: newRoom, anonymizer, protocol: 'known', budget: probes, seed: 0, threads });
  writeJsonAtomic(file, r);
  return r;
}

const baseR = await evalOn('base', base);
const rows: [string, EvalResult][] = [
  ['raw', await evalOn('raw', 'raw')],
  ['base model', baseR],
];
for (const teacher of teachers) {
  rows.push([`fine-tuned, ${teacher} teacher`, await evalOn(`finetuned-${teacher}`, await finetuned(teacher))]);
}
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : (100 * v).toFixed(1));
const points = (a: number | undefined, b: number | undefined) => (100 * ((a ?? 0) - (b ?? 0))).toFixed(1);
const ctx = machineContext();
const md = `## Room adaptation, SynthRoom \`${preset}\` new room (\`npm run bench:adapt -- --preset ${preset}\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(' · ')}

Base: \`${path.relative(path.dirname(benchDir), base)}\`; fine-tuned ${steps} minimax steps on the new room's training clips
with all labels removed (SSL budget branch on the room's frames, distillation from the frozen base
action model; its teacher sees raw clips, or the clips through the frozen base f_A). Evaluation on the new room's test split with fresh target models (${JSON.stringify(probes)}).

${mdTable(
  ['anonymizer', 'action top-1 ↑', 'person cMAP ↓', 'room cMAP ↓', 'flicker'],
  rows.map(([name, r]) => [
    name,
    pct(r.action_top1),
    pct(r.groups.person?.privacy_cmap),
    pct(r.groups.room?.privacy_cmap),
    r.flicker.toFixed(2),
  ]),
)}

Change from base to fine-tuned (points):

${mdTable(
  ['teacher', 'action top-1', 'person cMAP', 'room cMAP'],
  rows
    .slice(2)
    .map(([name, r]) => [
      name.replace('fine-tuned, ', ''),
      points(r.action_top1, baseR.action_top1),
      points(r.groups.person?.privacy_cmap, baseR.groups.person?.privacy_cmap),
      points(r.groups.room?.privacy_cmap, baseR.groups.room?.privacy_cmap),
    ]),
)}
`;
writeResults(`adapt-${preset}`, md, { context: ctx, preset, steps, base, teachers, rows });
log('done');
