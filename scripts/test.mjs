#!/usr/bin/env node
// `npm test` after set-up: typecheck → lint → unit → bench-smoke → e2e, then one summary line.
// Runs every stage even when one fails, so one run shows everything that is wrong.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (pkg, file) => path.join(root, 'node_modules', pkg, file);
const reportDir = path.join(root, 'dist', 'test-reports');
fs.mkdirSync(reportDir, { recursive: true });

const stages = [
  {
    name: 'typecheck',
    cmds: [
      [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.json'],
      [bin('typescript', 'bin/tsc'), '-p', 'renderer/tsconfig.json'],
      [
        bin('svelte-check', 'bin/svelte-check'),
        '--tsconfig',
        'renderer/tsconfig.json',
        '--fail-on-warnings',
        '--output',
        'human',
      ],
    ],
  },
  {
    name: 'lint',
    cmds: [
      [bin('eslint', 'bin/eslint.js'), '--max-warnings', '0', '.'],
      [bin('prettier', 'bin/prettier.cjs'), '--check', '--log-level', 'warn', '.'],
    ],
  },
  { name: 'unit', vitest: 'unit' },
  // The benches at their smallest size, apart so that the unit stage stays quick to run alone.
  { name: 'bench-smoke', vitest: 'bench-smoke' },
  { name: 'e2e', vitest: 'e2e' },
];

const only = process.argv.slice(2);
const results = [];
for (const stage of stages) {
  if (only.length > 0 && !only.includes(stage.name)) continue;
  process.stderr.write(`\n=== ${stage.name} ===\n`);
  const t0 = Date.now();
  let ok = true;
  let detail = '';
  if (stage.vitest) {
    const report = path.join(reportDir, `${stage.vitest}.json`);
    fs.rmSync(report, { force: true });
    const r = spawnSync(
      process.execPath,
      [
        bin('vitest', 'vitest.mjs'),
        'run',
        '--project',
        stage.vitest,
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${report}`,
      ],
      { cwd: root, stdio: 'inherit' },
    );
    ok = r.status === 0;
    if (fs.existsSync(report)) {
      const j = JSON.parse(fs.readFileSync(report, 'utf8'));
      detail = `${j.numPassedTests}/${j.numTotalTests} passed`;
      if (j.numTotalTests === 0) {
        ok = false;
        detail = 'no tests ran';
      }
      if (j.numPendingTests + j.numTodoTests > 0) detail += `, ${j.numPendingTests + j.numTodoTests} skipped`;
    } else {
      detail = 'no report';
      ok = false;
    }
  } else {
    for (const [exe, ...args] of stage.cmds) {
      const r = spawnSync(process.execPath, [exe, ...args], { cwd: root, stdio: 'inherit' });
      if (r.status !== 0) {
        ok = false;
        detail = `${path.basename(exe)} failed`;
      }
    }
  }
  results.push({ name: stage.name, ok, detail, s: ((Date.now() - t0) / 1000).toFixed(0) });
}

const allOk = results.every((r) => r.ok);
const line = results
  .map((r) => `${r.name} ${r.ok ? 'ok' : 'FAILED'}${r.detail ? ` (${r.detail})` : ''} ${r.s}s`)
  .join(' · ');
process.stdout.write(`\nSUMMARY: ${allOk ? 'PASS' : 'FAIL'} — ${line}\n`);
process.exit(allOk ? 0 : 1);
