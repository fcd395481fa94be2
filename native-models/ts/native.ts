// Loads the libtorch N-API addon built by `npm run build:native` (scripts/build-native.mjs).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TorchInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  cudaDevices: number;
  threads: number;
}

export type StepStats = Partial<
  Record<'l1' | 'l1_raw' | 'loss_T' | 'acc_T' | 'loss_B' | 'distill' | 'loss_U_raw' | 'structure', number>
>;

export interface NativeBatch {
  frames: Uint8Array;
  n: number;
  t: number;
  h: number;
  w: number;
  actions?: Int32Array | Float32Array;
  privacy?: Float32Array;
  /** Room mode: pseudo-label heatmaps [n, 18, h/4, w/4] and each frame's person box [n, 4]. */
  heatmaps?: Float32Array;
  boxes?: Float32Array;
}

/** The native engine object (native-models/src/engine_napi.cc). Use SpactEngine, which adds checks. */
export interface NativeEngine {
  initA(batch: NativeBatch): Promise<StepStats>;
  initTB(batch: NativeBatch, opts: { updateT: boolean; updateB: boolean }): Promise<StepStats>;
  stepA(batch: NativeBatch): Promise<StepStats>;
  stepTB(batch: NativeBatch): Promise<StepStats>;
  evaluate(batch: NativeBatch): Promise<StepStats>;
  anonymize(frames: Uint8Array, n: number, h: number, w: number): Promise<Uint8Array>;
  save(path: string, meta: string, weightsOnly?: boolean): Promise<void>;
  load(path: string, weightsOnly?: boolean, onlyAnonymizer?: boolean): Promise<string>;
  fingerprint(): { fA: number; fT: number; fB: number };
  setLearningRate(which: 'A' | 'T' | 'B', lr: number): void;
  /** Steps add the wall time of their phases to their stats as ms_<phase> (bench:engine). */
  setProfiling(on: boolean): void;
  describe(): { device: string; parameters: { fA: number; fT: number; fB: number }; divisor: number; threads: number };
  /** Frees the networks now (after calls already queued); any later call is refused. */
  dispose(): void;
}

/** f_A alone, for inference (native-models/src/engine.h, Anonymizer): no f_T, f_B or optimizers. */
export interface NativeAnonymizerNet {
  /** Reads f_A's weights from a SPAct checkpoint; resolves to its meta string. */
  load(path: string): Promise<string>;
  anonymize(frames: Uint8Array, n: number, h: number, w: number): Promise<Uint8Array>;
  fingerprint(): { fA: number };
  describe(): { device: string; parameters: { fA: number }; divisor: number; threads: number };
  /** Frees f_A now (after calls already queued); any later call is refused. */
  dispose(): void;
}

/** The raw addon surface. Higher-level wrappers in this folder give it types and checks. */
export interface NativeAddon {
  info(): TorchInfo;
  dot(a: Float32Array, b: Float32Array): number;
  Engine: new (config: Record<string, unknown>) => NativeEngine;
  AnonymizerNet: new (config: { fA: Record<string, unknown>; device: string; threads: number }) => NativeAnonymizerNet;
  readCheckpointMeta(path: string): string;
  ntXentDebug(
    z1: Float64Array,
    z2: Float64Array,
    n: number,
    d: number,
    tau: number,
  ): { loss: number; grad1: Float64Array; grad2: Float64Array };
  benchMinimax(
    config: Record<string, unknown>,
    opts: { variant: 'bare'; iterations: number; n: number; t: number; h: number; w: number },
  ): Promise<number>;
  benchGemm(size: number, iterations: number, threads: number, via?: 'mm' | 'conv'): Promise<number>;
  /** Where engine and probe work ran: entry points on / off the process's compute thread, the
   *  first few names seen off it, and how often the thread count was changed. */
  threadAudit(): {
    onCompute: number;
    offCompute: number;
    offNames: string[];
    threadChanges: number;
    /** The team size in force (requested, or fewer while other processes keep CPUs busy); -1 before any job. */
    appliedThreads: number;
  };
}

export class NativeEngineMissingError extends Error {
  readonly kind = 'unavailable' as const;
  constructor(
    readonly addonPath: string,
    cause: unknown,
  ) {
    super(
      `the SPAct engine (libtorch addon) could not be loaded from ${addonPath}: ` +
        `${cause instanceof Error ? cause.message : String(cause)}. Run \`npm run build:native\` ` +
        `(needs libtorch-dev, or LIBTORCH pointing at a libtorch folder).`,
    );
    this.name = 'NativeEngineMissingError';
  }
}

/** Walks up from this file to the folder holding native-models/binding.gyp (works from src and dist). */
function findNativeRoot(): string {
  if (process.env.SPACT_NATIVE_DIR) return process.env.SPACT_NATIVE_DIR;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'native-models', 'binding.gyp');
    if (fs.existsSync(candidate)) return path.dirname(candidate);
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new NativeEngineMissingError('native-models/', 'project folder not found');
    dir = parent;
  }
}

let cached: NativeAddon | undefined;

export function addonPath(): string {
  return path.join(findNativeRoot(), 'build', 'Release', 'spact_native.node');
}

export function loadNative(): NativeAddon {
  if (cached) return cached;
  // libgomp's default wait (300,000 spins at every barrier) makes a training step 2.7–5× slower
  // when another process competes for the CPUs; OMP_WAIT_POLICY=PASSIVE (no spinning) cost ~35 %
  // on a quiet machine, since every parallel region then wakes its team through the kernel. A short
  // spin keeps the quiet speed; under contention the compute thread shrinks its team instead
  // (ContentionMonitor in compute_thread.h; bench/RESULTS.md). Read when libgomp loads, so set
  // before the addon is required; an explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.GOMP_SPINCOUNT ??= '10000';
  // OpenBLAS's own worker threads deadlock the process when it forks while they exist (its
  // pthread_atfork handler joins a worker that never wakes: seen as a core frozen in fork() while
  // spawning ffmpeg beside a fine-tune). libtorch parallelises around BLAS with OpenMP anyway:
  // one OpenBLAS thread measured no slower for f_A (median 589 vs 618 ms per 8×240×320 batch).
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  const file = addonPath();
  try {
    const require = createRequire(import.meta.url);
    cached = require(file) as NativeAddon;
  } catch (err) {
    throw new NativeEngineMissingError(file, err);
  }
  return cached;
}
