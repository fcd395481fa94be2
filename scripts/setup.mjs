#!/usr/bin/env node
// One-command set-up used by `npm start` and `npm test` (and `.ci/run` through `npm test`).
// Idempotent: every step records a stamp of its inputs and is skipped when nothing changed,
// so a second run costs a few hundred milliseconds. No npm dependency may be imported here:
// this file runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureExecutables } from './ensure-executables.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');

// System packages the project needs on Debian: libtorch for the engine (unless LIBTORCH points at
// another build, e.g. CUDA), OpenBLAS so BLAS paths are not the 4.5 GFLOP/s reference BLAS,
// Chromium for browser mode and e2e tests, Xvfb for running a window where no display exists,
// PyTorch (the same libtorch) for bench:engine's same-work reference and its test
// (bench/torch-reference.py, test/unit/torch-reference.test.ts), Redis for the distributed job
// queue (BullMQ; its tests start their own server on a random loopback port, `spact worker`).
const APT_PACKAGES = ['libtorch-dev', 'libopenblas0', 'chromium', 'xvfb', 'python3-torch', 'redis-server'];

function log(msg) {
  if (!quiet) process.stderr.write(`[setup] ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`[setup] error: ${msg}\n`);
  process.exit(1);
}

function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) fail(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${cmdArgs.join(' ')} exited with ${r.status}`);
}

const SOURCE_EXTENSIONS = new Set([
  '.ts',
  '.mts',
  '.js',
  '.mjs',
  '.cjs',
  '.json',
  '.svelte',
  '.html',
  '.css',
  '.cc',
  '.h',
  '.gyp',
]);

/** Hash of source file contents (and names) under the given paths, skipping outputs and caches. */
function hashInputs(paths, extra = '') {
  const h = createHash('sha256');
  h.update(extra);
  const walk = (p) => {
    if (!fs.existsSync(p)) return;
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      const base = path.basename(p);
      // Build outputs, caches (bench/.cache holds gigabytes of data) and results are not inputs.
      if (['node_modules', 'build', 'dist', 'screenshots', 'results', 'models'].includes(base) || base.startsWith('.'))
        return;
      for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
    } else if (SOURCE_EXTENSIONS.has(path.extname(p)) || paths.includes(path.relative(root, p))) {
      h.update(path.relative(root, p));
      h.update(fs.readFileSync(p));
    }
  };
  for (const p of paths) walk(path.join(root, p));
  return h.digest('hex');
}

/** Runs `build` only when the hash of `inputs` differs from the stamp left by the last success. */
function step(name, stampFile, inputs, build, extra = '') {
  const stampPath = path.join(root, stampFile);
  const digest = hashInputs(inputs, extra);
  if (fs.existsSync(stampPath) && fs.readFileSync(stampPath, 'utf8') === digest) return false;
  log(`${name}…`);
  const t0 = Date.now();
  build();
  fs.mkdirSync(path.dirname(stampPath), { recursive: true });
  fs.writeFileSync(stampPath, digest);
  log(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function ensureSystemPackages() {
  if (process.env.SPACT_SKIP_APT === '1') return;
  if (os.platform() !== 'linux' || !fs.existsSync('/usr/bin/dpkg-query')) {
    if (!process.env.LIBTORCH) {
      log('not a Debian system: set LIBTORCH to an unpacked libtorch folder and install Chromium yourself');
    }
    return;
  }
  const wanted = APT_PACKAGES.filter((p) => !(p === 'libtorch-dev' && process.env.LIBTORCH));
  const missing = wanted.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return;
  const cmd = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    fail(`missing system packages: ${missing.join(', ')}. Run as root:\n  sudo sh -c '${cmd}'`);
  }
  log(`installing system packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { env });
  run('apt-get', ['install', '-y', '-q', ...missing], { env });
}

function ensureNodeModules() {
  step(
    'npm ci',
    'node_modules/.spact-installed',
    ['package.json', 'package-lock.json'],
    () => {
      // Electron is optional and its binary cannot be downloaded offline: browser mode replaces it.
      const env = { ...process.env };
      if (process.env.SPACT_DOWNLOAD_ELECTRON !== '1') env.ELECTRON_SKIP_BINARY_DOWNLOAD = '1';
      run('npm', ['ci', '--no-fund', '--no-audit'], { env });
    },
    process.version,
  );
}

// Binaries whose tarball mode is 0744 would run for their owner only (spawn EACCES for the rest).
function ensureVideoBinaries() {
  const { fixed, failed } = ensureExecutables(path.join(root, 'node_modules'));
  for (const f of fixed) log(`made ${path.relative(root, f)} executable for all users`);
  for (const f of failed)
    log(`cannot make ${f.file} executable (${f.reason}); other users cannot run it until: sudo chmod a+x ${f.file}`);
}

function ensureNative() {
  step(
    'native addon build',
    'native-models/build/.spact-stamp',
    ['native-models/src', 'native-models/binding.gyp', 'native-models/torch-config.cjs'],
    () => run(process.execPath, [path.join(root, 'scripts/build-native.mjs')]),
    `${process.version}|${process.env.LIBTORCH ?? ''}`,
  );
}

function ensureNodeBuild() {
  step(
    'TypeScript build (electron, native-models, bench)',
    'dist/.spact-node-stamp',
    ['electron', 'native-models/ts', 'bench', 'tsconfig.base.json', 'tsconfig.node.json', 'package-lock.json'],
    () => {
      // Clean build: stale outputs of deleted sources must not linger (the build info goes too,
      // or tsc would believe the deleted outputs are current).
      fs.rmSync(path.join(root, 'dist', 'node'), { recursive: true, force: true });
      fs.rmSync(path.join(root, 'dist', '.tsbuildinfo-node'), { force: true });
      run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.node.json']);
    },
  );
}

function ensureWebBuild() {
  step(
    'renderer and preload build',
    'dist/.spact-web-stamp',
    [
      'renderer',
      'electron/preload.ts',
      'electron/ipc-channels.ts',
      'electron/contract.ts',
      'vite.config.ts',
      'svelte.config.js',
      'package-lock.json',
    ],
    () => {
      const vite = path.join(root, 'node_modules/vite/bin/vite.js');
      run(process.execPath, [vite, 'build', '--logLevel', 'warn']);
      run(process.execPath, [vite, 'build', '--logLevel', 'warn', '--mode', 'preload']);
    },
  );
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Node ${process.version} is too old: SPAct Desktop needs Node 20.19 or newer`);

ensureSystemPackages();
ensureNodeModules();
ensureVideoBinaries();
ensureNative();
ensureNodeBuild();
ensureWebBuild();
if (!args.has('--build-only')) log('ready');
