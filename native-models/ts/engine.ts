// Typed wrapper over the native engine: maps native error prefixes to error classes with a `kind`
// so callers (trainer, CLI, app) can tell bad input from a diverged run from a bug.
import { engineConfigOf, type LabelSpace, type TrainConfig } from './config.js';
import { loadNative, type NativeBatch, type NativeEngine, type StepStats, type TorchInfo } from './native.js';

export type { StepStats };

export class EngineError extends Error {
  constructor(
    readonly kind: 'bad-input' | 'non-finite' | 'busy' | 'internal',
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** Diverged training (NaN/inf loss): the state is not checkpointed; the last good checkpoint stays. */
export class NonFiniteLossError extends EngineError {
  constructor(message: string) {
    super('non-finite', message);
    this.name = 'NonFiniteLossError';
  }
}

/**
 * The addon's errors carry their kind as `code` (std::exception paths, compute_thread.h KindError)
 * or as a "[kind] " message prefix (argument checks); kinds are parsed against the known list —
 * anything else, or a libtorch error ("torch"), is internal, with the first line of its message.
 */
export function mapNativeError(err: unknown): Error {
  if (!(err instanceof Error)) return new EngineError('internal', String(err));
  const code = (err as Error & { code?: unknown }).code;
  const prefixed = /^\[([a-z-]+)\] ([\s\S]*)$/.exec(err.message);
  let tag: string;
  let msg: string;
  if (typeof code === 'string' && /^[a-z-]+$/.test(code)) [tag, msg] = [code, err.message];
  else if (prefixed) [tag, msg] = [prefixed[1]!, prefixed[2]!];
  else return err;
  switch (tag) {
    case 'non-finite':
      return new NonFiniteLossError(msg);
    case 'bad-input':
      return new EngineError('bad-input', msg);
    case 'busy':
      return new EngineError('busy', msg);
    default:
      return new EngineError('internal', msg.split('\n')[0] ?? msg);
  }
}

/** A compute device that was asked for by name (cuda, cuda:N) but does not exist on this machine. */
export class DeviceUnavailableError extends Error {
  readonly kind = 'unavailable' as const;
  constructor(message: string) {
    super(message);
    this.name = 'DeviceUnavailableError';
  }
}

/**
 * Checks a device choice (auto | cpu | cuda | cuda:N) against this machine before an engine is
 * built: 'auto' and 'cpu' always work ('auto' picks CUDA when the engine finds it); a CUDA device
 * that is absent is refused with kind 'unavailable' and one line, never silently replaced by the CPU.
 */
export function checkDevice(
  spec: string,
  info: () => Pick<TorchInfo, 'cudaAvailable' | 'cudaDevices' | 'torchVersion'> = () => loadNative().info(),
): void {
  const m = /^(auto|cpu|cuda)(?::(\d+))?$/.exec(spec);
  if (!m || (m[2] !== undefined && m[1] !== 'cuda'))
    throw new EngineError('bad-input', `device must be auto, cpu, cuda or cuda:N, got "${spec}"`);
  if (m[1] !== 'cuda') return;
  const t = info();
  if (!t.cudaAvailable)
    throw new DeviceUnavailableError(
      `device "${spec}" is not available: this machine has no usable CUDA GPU (libtorch ${t.torchVersion} sees none); choose auto or cpu`,
    );
  const index = m[2] === undefined ? 0 : Number(m[2]);
  if (index >= t.cudaDevices)
    throw new DeviceUnavailableError(
      `device "${spec}" is not available: this machine has ${t.cudaDevices} CUDA device(s) (cuda:0–cuda:${t.cudaDevices - 1})`,
    );
}

async function wrap<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    throw mapNativeError(err);
  }
}

export class SpactEngine {
  private readonly native: NativeEngine;

  constructor(
    readonly config: TrainConfig,
    readonly labels: LabelSpace,
  ) {
    const { Engine } = loadNative();
    checkDevice(config.device);
    try {
      this.native = new Engine(engineConfigOf(config, labels));
    } catch (err) {
      throw mapNativeError(err);
    }
  }

  initA = (b: NativeBatch) => wrap(() => this.native.initA(b));
  initTB = (b: NativeBatch, opts: { updateT: boolean; updateB: boolean }) => wrap(() => this.native.initTB(b, opts));
  stepA = (b: NativeBatch) => wrap(() => this.native.stepA(b));
  stepTB = (b: NativeBatch) => wrap(() => this.native.stepTB(b));
  evaluate = (b: NativeBatch) => wrap(() => this.native.evaluate(b));
  anonymize = (frames: Uint8Array, n: number, h: number, w: number) =>
    wrap(() => this.native.anonymize(frames, n, h, w));
  save = (file: string, meta: string, weightsOnly = false) => wrap(() => this.native.save(file, meta, weightsOnly));
  load = (file: string, weightsOnly = false) => wrap(() => this.native.load(file, weightsOnly));
  /** Replaces only f_A with the one in `file` (e.g. to compare two anonymizers against one f_B). */
  loadAnonymizer = (file: string) => wrap(() => this.native.load(file, true, true));
  describe = () => this.native.describe();
  fingerprint = () => this.native.fingerprint();
  /** Profiling (bench:engine): each step's stats then carry ms_<phase> wall times. */
  setProfiling = (on: boolean) => this.native.setProfiling(on);
  /** Frees the networks and optimizers now instead of at garbage collection; later calls fail. */
  dispose = () => this.native.dispose();
  setLearningRate = (which: 'A' | 'T' | 'B', lr: number) => {
    try {
      this.native.setLearningRate(which, lr);
    } catch (err) {
      throw mapNativeError(err);
    }
  };
}
