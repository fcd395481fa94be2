// `node dist/node/bench/model-load.js [model] [--rounds N]`: what loading a model for inference
// costs — the f_A-only loader (Anonymizer.load, the addon's AnonymizerNet) against the full
// training engine that inference used to build (f_T, f_B, heads, three optimizers, then f_A's
// weights). Each load runs in a fresh child process, alternating the two, so its resident memory
// is its own: RSS after the load minus RSS once libtorch is loaded, and wall time of the load.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import {
  Anonymizer,
  defaultModelDir,
  loadNative,
  readCheckpointMeta,
  resolveCheckpointPath,
  SpactEngine,
} from '../native-models/ts/index.js';

const args = process.argv.slice(2);
const child = args.indexOf('--child');
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const model = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds' && args[i - 1] !== '--child');
const file = resolveCheckpointPath(model ?? defaultModelDir());

if (child >= 0) {
  const kind = args[child + 1];
  loadNative();
  const frames = new Uint8Array(64 * 64 * 3);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  if (kind === 'full') {
    const meta = readCheckpointMeta(file);
    const engine = new SpactEngine({ ...meta.config, threads: 2 }, meta.labels);
    await engine.load(file, true);
    const ms = performance.now() - t0;
    await engine.anonymize(frames, 1, 64, 64);
    process.stdout.write(JSON.stringify({ ms, rssMiB: (process.memoryUsage().rss - rss0) / 2 ** 20 }));
  } else {
    const anonymizer = await Anonymizer.load(file, { threads: 2 });
    const ms = performance.now() - t0;
    await anonymizer.anonymize(frames, 1, 64, 64);
    process.stdout.write(JSON.stringify({ ms, rssMiB: (process.memoryUsage().rss - rss0) / 2 ** 20 }));
  }
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const results: Record<'full' | 'fA', { ms: number; rssMiB: number }[]> = { full: [], fA: [] };
for (let r = 0; r < rounds; r++) {
  for (const kind of r % 2 ? (['fA', 'full'] as const) : (['full', 'fA'] as const)) {
    const out = execFileSync(process.execPath, [self, file, '--child', kind], { encoding: 'utf8' });
    results[kind].push(JSON.parse(out) as { ms: number; rssMiB: number });
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
process.stdout.write(`model ${file}, ${rounds} loads each (fresh process per load), medians:\n`);
for (const kind of ['full', 'fA'] as const) {
  const ms = median(results[kind].map((x) => x.ms));
  const rss = median(results[kind].map((x) => x.rssMiB));
  process.stdout.write(
    `${kind === 'full' ? 'full engine ' : 'f_A only    '}  load ${ms.toFixed(0)} ms   RSS +${rss.toFixed(1)} MiB\n`,
  );
}
