// The tiny preset of the privacy benchmark end to end (the CI check of the whole pipeline:
// SynthRoom → baselines → SPAct / frozen f_B / supervised training → selection on validation →
// evaluation → table and plot). Numbers at this size are noise and are not asserted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';

function runBench(benchDir: string, ...args: string[]): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist/node/bench/privacy.js'), ...args], {
      cwd: projectRoot,
      env: { ...process.env, SPACT_BENCH_DIR: benchDir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('close', (c) => resolve(c ?? -1));
  });
}

describe('bench:privacy --preset tiny', () => {
  it('completes in parts, resumes from its cache and writes the table, the JSON and the trade-off plot', async () => {
    const benchDir = tmpDir('spact-bench-');
    const readMd = () => fs.readFileSync(path.join(benchDir, 'RESULTS.md'), 'utf8');

    // A partial run: only SPAct is trained; the table names what is still missing.
    expect(
      await runBench(benchDir, '--preset', 'tiny', '--skip-ablations', '--methods', 'spact', '--skip-novel-action'),
    ).toBe(0);
    expect(readMd()).toContain('| spact |');
    expect(readMd()).toMatch(/Not run yet \(no result in the cache\): spact-frozen-fB, supervised\./);

    // The whole bench reuses the cached baselines and SPAct run and completes the table.
    expect(await runBench(benchDir, '--preset', 'tiny', '--skip-ablations')).toBe(0);
    const md = readMd();
    for (const method of ['raw', 'downsample4', 'blackout', 'blur-strong', 'spact', 'spact-frozen-fB', 'supervised']) {
      expect(md).toContain(`| ${method} |`);
    }
    expect(md).not.toContain('Not run yet');
    const json = JSON.parse(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny.json'), 'utf8'));
    expect(json.rows).toHaveLength(9);
    expect(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny-tradeoff.svg'), 'utf8')).toContain('<svg');

    // --report trains nothing and rebuilds the same table from the cache.
    expect(await runBench(benchDir, '--preset', 'tiny', '--skip-ablations', '--report')).toBe(0);
    const again = JSON.parse(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny.json'), 'utf8'));
    expect(again.rows).toEqual(json.rows);
  }, 900_000);
});
