// The same-work PyTorch reference of the engine's minimax iteration (bench/torch-reference.py) from
// TypeScript: whether it can run here (Debian's python3-torch: the same libtorch 1.13 as the
// engine), its timing for bench:engine, and its one-step check against the engine's losses
// (test/unit/torch-reference.test.ts). No dependencies beyond Node.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type TorchReferenceLayout = 'plain' | 'channels-last';

export const TORCH_REFERENCE_INSTALL_HINT =
  "install Debian's python3-torch (as root: apt-get install -y python3-torch; `npm test` / scripts/setup.mjs installs it)";

/** bench/torch-reference.py, from bench/ or its compiled copy in dist/node/bench/. */
export function torchReferenceScript(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('torch-reference: project folder (package.json) not found');
    dir = parent;
  }
  return path.join(dir, 'bench', 'torch-reference.py');
}

/** Interpreters tried in order: SPACT_PYTHON alone when set; else Debian's (python3-torch is
 *  installed for it, while a `python3` earlier on PATH, e.g. pyenv's, lacks torch), then `python3`. */
function pythonCandidates(): string[] {
  if (process.env.SPACT_PYTHON) return [process.env.SPACT_PYTHON];
  return ['/usr/bin/python3', 'python3'];
}

type Probe = { ok: true; python: string; torchVersion: string } | { ok: false; reason: string };
let probed: Probe | undefined;

/** The first interpreter that imports torch (cached for the process). */
export function torchReferencePython(): Probe {
  if (probed) return probed;
  const reasons: string[] = [];
  if (!fs.existsSync(torchReferenceScript())) {
    probed = { ok: false, reason: `${torchReferenceScript()} is missing` };
    return probed;
  }
  for (const python of pythonCandidates()) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.error) {
      reasons.push(`${python}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
      continue;
    }
    if (r.status === 0) {
      probed = { ok: true, python, torchVersion: r.stdout.trim() };
      return probed;
    }
    const last = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`;
    reasons.push(`${python}: ${last}`);
  }
  probed = { ok: false, reason: `no python3 with PyTorch (${reasons.join('; ')}): ${TORCH_REFERENCE_INSTALL_HINT}` };
  return probed;
}

export function torchReferenceAvailable(): { ok: true } | { ok: false; reason: string } {
  const p = torchReferencePython();
  return p.ok ? { ok: true } : { ok: false, reason: p.reason };
}

/**
 * The child's environment: this process's, without OMP_WAIT_POLICY and GOMP_SPINCOUNT —
 * loadNative() sets a short spin in this process for the engine, and the reference runs on
 * PyTorch's defaults (what a practitioner gets) unless `extra` sets them. `extra` values override; undefined removes.
 */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OMP_WAIT_POLICY;
  delete env.GOMP_SPINCOUNT;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function runPython(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<unknown> {
  const p = torchReferencePython();
  if (!p.ok) return Promise.reject(new Error(p.reason));
  return new Promise((resolve, reject) => {
    const child = spawn(p.python, [torchReferenceScript(), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const why = signal
          ? `killed by ${signal}${signal === 'SIGKILL' ? ` after ${timeoutMs} ms` : ''}`
          : `exit ${code}`;
        reject(
          new Error(`torch-reference.py ${args[0]} failed (${why}): ${err.trim().split('\n').slice(-5).join('\n')}`),
        );
        return;
      }
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`torch-reference.py ${args[0]} printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

export interface TorchReferenceTiming {
  /** Median over `samples` (after the warm-up iterations). */
  msPerIteration: number;
  samples: number[];
  layout: TorchReferenceLayout;
  threads: number;
  parameters: { fA: number; fT: number; fB: number };
  torch: string;
  /** OMP_WAIT_POLICY the child ran with (null: libgomp's default, active spinning). */
  ompWaitPolicy: string | null;
  /** 1/5/15-minute load average when the run ended. */
  loadavg: [number, number, number];
}

/**
 * ms per minimax iteration (step 1 + step 2) of the reference on bench:engine's batch
 * (4 clips × 8 frames × 64², edge nets, augmentation off, 8 actions). `config`: engine config
 * fields over the edge defaults (e.g. engineConfigOf(config, labels)); `shape` the batch.
 */
export function runTorchReference(opts: {
  layout: TorchReferenceLayout;
  threads: number;
  iterations: number;
  warmup?: number;
  config?: Record<string, unknown>;
  shape?: { n: number; t: number; h: number; w: number };
  /** Start from an engine checkpoint (Engine::save) instead of PyTorch's default init. */
  weights?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}): Promise<TorchReferenceTiming> {
  const args = ['time', '--layout', opts.layout, '--threads', String(opts.threads)];
  args.push('--iterations', String(opts.iterations), '--warmup', String(opts.warmup ?? 3));
  if (opts.config) args.push('--config', JSON.stringify(opts.config));
  if (opts.shape) args.push('--shape', JSON.stringify(opts.shape));
  if (opts.weights) args.push('--weights', opts.weights);
  return runPython(args, childEnv(opts.env), opts.timeoutMs ?? 600_000) as Promise<TorchReferenceTiming>;
}

/** What the check reads: an engine checkpoint, a uint8 batch file [n, t, h, w, 3] (t = 2). */
export interface TorchReferenceCheckSpec {
  weights: string;
  batch: string;
  n: number;
  t: number;
  h: number;
  w: number;
  actions: number[];
  /** The engine's config (engineConfigOf): the nets, learning rates, ω, τ, clip frames. */
  config: Record<string, unknown>;
  threads: number;
  layouts?: TorchReferenceLayout[];
  /** When set, anonymize() of the n·t frames before and after the three steps goes to
   *  `${anonymizeOut}.${layout}.anonymizeBefore.bin` and `….anonymizeAfter.bin`. */
  anonymizeOut?: string;
}

export interface TorchReferenceStepStats {
  loss_T: number;
  loss_B: number;
  acc_T: number;
  l1?: number;
}

export interface TorchReferenceCheckResult {
  torch: string;
  parameters: { fA: number; fT: number; fB: number };
  /** Per layout: step 1, step 2, step 1 again (after step 2's updates), as Engine::stepA / stepTB. */
  layouts: Partial<
    Record<
      TorchReferenceLayout,
      {
        step1: TorchReferenceStepStats;
        step2: TorchReferenceStepStats;
        step1b: TorchReferenceStepStats;
        anonymizeBefore?: string;
        anonymizeAfter?: string;
      }
    >
  >;
}

/** Runs the reference's check: writes `spec` next to the batch and reads the result. */
export function runTorchReferenceCheck(
  spec: TorchReferenceCheckSpec,
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<TorchReferenceCheckResult> {
  const specFile = `${spec.batch}.spec.json`;
  fs.writeFileSync(specFile, JSON.stringify(spec));
  return runPython(
    ['check', '--spec', specFile],
    childEnv(opts.env),
    opts.timeoutMs ?? 300_000,
  ) as Promise<TorchReferenceCheckResult>;
}
