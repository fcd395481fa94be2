// The tiny preset of the privacy benchmark end to end (the CI check of the whole pipeline:
// SynthRoom → baselines → SPAct / frozen f_B / supervised training → selection on validation →
// evaluation → table and plot). Numbers at this size are noise and are not asserted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';

/** Runs a compiled bench script to its end: its exit code and the tail of its stderr (for failures). */
function runBench(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; log: string }> {
  return new Promise((resolve) => {
    let log = '';
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist/node/bench', script), ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
    child.on('close', (c) => resolve({ code: c ?? -1, log }));
  });
}

describe('bench:privacy --preset tiny', () => {
  it('completes in parts, resumes from its cache and writes the table, the JSON and the trade-off plot', async () => {
    const benchDir = tmpDir('spact-bench-');
    const readMd = () => fs.readFileSync(path.join(benchDir, 'RESULTS.md'), 'utf8');
    const privacy = async (...args: string[]) => {
      const { code, log } = await runBench('privacy.js', args, { SPACT_BENCH_DIR: benchDir });
      expect(code, log).toBe(0);
    };

    // A partial run: only SPAct is trained; the table names what is still missing.
    await privacy('--preset', 'tiny', '--skip-ablations', '--methods', 'spact', '--skip-novel-action');
    expect(readMd()).toContain('| spact |');
    expect(readMd()).toMatch(/Not run yet \(no result in the cache\): spact-frozen-fB, supervised\./);

    // The whole bench reuses the cached baselines and SPAct run and completes the table.
    await privacy('--preset', 'tiny', '--skip-ablations');
    const md = readMd();
    for (const method of ['raw', 'downsample4', 'blackout', 'blur-strong', 'spact', 'spact-frozen-fB', 'supervised']) {
      expect(md).toContain(`| ${method} |`);
    }
    expect(md).not.toContain('Not run yet');
    const json = JSON.parse(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny.json'), 'utf8'));
    expect(json.rows).toHaveLength(9);
    expect(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny-tradeoff.svg'), 'utf8')).toContain('<svg');

    // --report trains nothing and rebuilds the same table from the cache.
    await privacy('--preset', 'tiny', '--skip-ablations', '--report');
    const again = JSON.parse(fs.readFileSync(path.join(benchDir, 'results', 'privacy-tiny.json'), 'utf8'));
    expect(again.rows).toEqual(json.rows);
  }, 900_000);
});

// bench:real on the 6 s real test excerpt (raw, grayscale, Gaussian blur σ 8, the default model at
// 112 px), judged by the video privacy audit on its 3–4.5 s part (15 frames at 10 fps, the quick
// audit budget): the table, JSON and plots land in --out, never in bench/.
describe('bench:real --quick', () => {
  it('judges raw, filters and the default model on real footage and writes the table, the JSON and the plots', async () => {
    const out = tmpDir('spact-bench-real-');
    const { code, log } = await runBench('real.js', ['--quick', '--out', out]);
    expect(code, log).toBe(0);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'results', 'real.json'), 'utf8'));
    expect(json.methods.map((m: { name: string }) => m.name)).toEqual(['raw', 'grayscale', 'blur8', 'default-112']);
    expect(json.window.frames).toBe(15);
    expect(json.tracks.usable).toBeGreaterThanOrEqual(2);
    const by = Object.fromEntries(json.methods.map((m: { name: string; summary: unknown }) => [m.name, m.summary]));
    // The raw video against itself: every person found again, the poses agreeing (not always all of
    // them: the pose judge can name two keypoints alike), attackers at their ceiling.
    expect(by.raw.recall).toBe(1);
    expect(by.raw.pose).toBeGreaterThan(0.99);
    expect(by.raw.worstWithRaw).toBeGreaterThan(json.chance);
    for (const m of json.methods) {
      for (const v of [m.summary.worstWithRaw, m.summary.worstAnonymizedOnly, m.summary.recall, m.summary.pose]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    expect(json.methods.find((m: { name: string }) => m.name === 'default-112').workingSize).toBe('150×112');
    const md = fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain('<!-- real:start -->');
    expect(md).toContain('<!-- real:end -->');
    for (const m of ['raw', 'grayscale', 'blur8', 'default-112']) expect(md).toContain(`(\`${m}\`) |`);
    for (const svg of ['real-recall.svg', 'real-pose.svg']) {
      const text = fs.readFileSync(path.join(out, 'results', svg), 'utf8');
      expect(text).toMatch(/^<svg /);
      for (const m of ['raw', 'grayscale', 'blur8', 'default-112']) expect(text).toContain(`>${m}</text>`);
    }
  }, 600_000);
});

// bench:pipeline --quick: the export pipeline on short clips, f_A at real working sizes on the real
// excerpt (each in a fresh process) and the live preview reading it in real time; into --out only.
describe('bench:pipeline --quick', () => {
  it('times the pipeline, f_A at real working sizes and the live preview, and writes the table and JSON', async () => {
    const out = tmpDir('spact-bench-pipeline-');
    const { code, log } = await runBench('pipeline.js', ['--quick', '--out', out]);
    expect(code, log).toBe(0);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'results', 'pipeline.json'), 'utf8'));
    expect(json.quick).toBe(true);
    expect(json.ratio).toBeGreaterThan(0);
    // The real excerpt is 768×576: 112 and 240 px short side keep its 4:3 shape.
    expect(json.byRealSize.map((r: { width: number; height: number }) => `${r.width}×${r.height}`)).toEqual([
      '150×112',
      '320×240',
    ]);
    for (const r of json.byRealSize) {
      expect(r.fps).toBeGreaterThan(0);
      expect(r.peakRssMiB).toBeGreaterThanOrEqual(r.rssBeforeMiB);
    }
    // The live preview at the size the app picks for this file ('auto', no people measured: 480).
    expect(json.live.size).toBe(480);
    const live = json.live.runs[0];
    expect(live).toMatchObject({ width: 640, height: 480, requestedFps: 10 });
    expect(live.frames).toBeGreaterThanOrEqual(15); // 2 s at 10 fps
    expect(live.deliveredFps).toBeGreaterThan(0);
    expect(live.deliveredFps).toBeLessThanOrEqual(12);
    const md = fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain('<!-- pipeline:start -->');
    expect(md).toMatch(/\| 240 \| 320×240 \|/);
    expect(md).toContain('480 px at 10 fps (the app)');
  }, 300_000);
});

// bench:latency --quick: a real `spact serve` with the core in its host process, a trivial call
// timed idle and while an anonymize, an export and a fine-tune run; into --out only.
describe('bench:latency --quick', () => {
  it('measures the round trip idle and under load, with the three kinds of job started', async () => {
    const out = tmpDir('spact-bench-latency-');
    const { code, log } = await runBench('latency.js', ['--quick', '--seconds', '3', '--out', out]);
    expect(code, log).toBe(0);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'results', 'latency.json'), 'utf8'));
    expect(json.results.map((r: { mode: string }) => r.mode)).toEqual(['host']);
    const [host] = json.results;
    expect(host.idle.n).toBeGreaterThan(5);
    expect(host.load.n).toBeGreaterThan(5);
    expect(host.load.p99).toBeGreaterThanOrEqual(host.load.p50);
    expect(fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8')).toContain('<!-- latency:start -->');
  }, 300_000);
});
