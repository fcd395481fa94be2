// `npm run bench:adapt [-- --preset small|tiny] [--base RUN_DIR] [--steps N]`: room adaptation
// measured on SynthRoom's held-out "new room" split. The base model (the shipped default, or
// --base) is fine-tuned on the new room's training clips with their labels removed — no privacy
// and no action labels, as an operator would have — then base and fine-tuned anonymizers are
// evaluated with the paper's protocol on the new room (fresh action model and attackers trained on
// its anonymized training clips, tested on its test clips).
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
  type EvalResult,
  type SynthPreset,
} from '../native-models/ts/index.js';
import { benchArg, benchDir, machineContext, mdTable, writeResults } from './results-file.js';

const arg = benchArg;
const preset = (arg('--preset') ?? 'small') as SynthPreset;
const steps = Number(arg('--steps') ?? (preset === 'tiny' ? 6 : 300));
const base = resolveCheckpointPath(arg('--base') ?? defaultModelDir());
const threads = Math.min(2, os.availableParallelism());
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

const run = path.join(cache, 'finetuned');
if (
  !fs.existsSync(path.join(run, 'checkpoint.pt')) ||
  readCheckpointMeta(path.join(run, 'checkpoint.pt')).state.phase !== 'done'
) {
  log(`fine-tuning ${path.relative(process.cwd(), base)} on the unlabeled new room (${steps} steps)…`);
  fs.rmSync(run, { recursive: true, force: true });
  await train({
    data: footage,
    out: run,
    base,
    overrides: {
      minimax: { steps },
      init: { maxStepsTB: Math.max(10, Math.round(steps / 2)) },
      checkpoint: { every: Math.max(5, Math.round(steps / 10)), snapshotEvery: 0 },
      eval: { every: Math.max(5, Math.round(steps / 10)), batches: 2 },
      threads,
    },
    onWarning: (w) => log(`  ${w}`),
  });
}

async function evalOn(name: string, anonymizer: string): Promise<EvalResult> {
  const file = path.join(cache, `eval-${name}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as EvalResult;
  log(`evaluating ${name} on the new room…`);
  const r = await evaluate({ data: newRoom, anonymizer, protocol: 'known', budget: probes, seed: 0, threads });
  fs.writeFileSync(file, JSON.stringify(r, null, 2));
  return r;
}

const rows: [string, EvalResult][] = [
  ['raw', await evalOn('raw', 'raw')],
  ['base model', await evalOn('base', base)],
  ['fine-tuned to the room', await evalOn('finetuned', path.join(run, 'checkpoint.pt'))],
];
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : (100 * v).toFixed(1));
const baseR = rows[1]![1];
const ftR = rows[2]![1];
const ctx = machineContext();
const md = `## Room adaptation, SynthRoom \`${preset}\` new room (\`npm run bench:adapt -- --preset ${preset}\`)

${Object.entries(ctx)
  .map(([k, v]) => `${k}: ${v}`)
  .join(' · ')}

Base: \`${path.relative(path.dirname(benchDir), base)}\`; fine-tuned ${steps} minimax steps on the new room's training clips
with all labels removed (SSL budget branch on the room's frames, distillation from the frozen base
action model). Evaluation on the new room's test split with fresh target models (${JSON.stringify(probes)}).

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

Change from base to fine-tuned: action top-1 ${(100 * (ftR.action_top1 - baseR.action_top1)).toFixed(1)} points,
person cMAP ${(100 * ((ftR.groups.person?.privacy_cmap ?? 0) - (baseR.groups.person?.privacy_cmap ?? 0))).toFixed(1)} points,
room cMAP ${(100 * ((ftR.groups.room?.privacy_cmap ?? 0) - (baseR.groups.room?.privacy_cmap ?? 0))).toFixed(1)} points.
`;
writeResults(`adapt-${preset}`, md, { context: ctx, preset, steps, base, rows });
log('done');
