// The tiny preset of the privacy benchmark end to end (the CI check of the whole pipeline:
// SynthRoom → baselines → SPAct / frozen f_B / supervised training → selection on validation →
// evaluation → table and plot). Numbers at this size are noise and are not asserted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';

describe('bench:privacy --preset tiny', () => {
  it('completes and writes the table, the JSON and the trade-off plot', async () => {
    const benchDir = tmpDir('spact-bench-');
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(projectRoot, 'dist/node/bench/privacy.js'), '--preset', 'tiny', '--skip-ablations'],
        {
          cwd: projectRoot,
          env: { ...process.env, SPACT_BENCH_DIR: benchDir },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      child.on('close', (c) => resolve(c ?? -1));
    });
    expect(code).toBe(0);
    const md = fs.readFileSync(path.join(benchDir, 'RESULTS.md'), 'utf8');
    for (const method of ['raw', 'downsample4', 'blackout', 'blur-strong', 'spact', 'spact-frozen-fB', 'supervised']) {
      expect(md).toContain(`| ${method} |`);
    }
    const json = JSON.parse(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny.json'), 'utf8'));
    expect(json.rows).toHaveLength(9);
    expect(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny-tradeoff.svg'), 'utf8')).toContain('<svg');
  }, 900_000);
});
