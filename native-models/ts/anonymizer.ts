// Inference API: anonymize frames with a trained f_A (used by export, batch anonymization and the
// live preview). Loads only what inference needs from a checkpoint; returns uint8 RGB.
import { fileSha256, readCheckpointMeta, resolveCheckpointPath, type CheckpointMeta } from './checkpoint.js';
import { SpactEngine } from './engine.js';

export interface AnonymizerOptions {
  device?: string; // auto | cpu | cuda | cuda:N (default: the checkpoint's setting)
  threads?: number;
}

export class Anonymizer {
  private constructor(
    private readonly engine: SpactEngine,
    readonly checkpoint: string,
    readonly meta: CheckpointMeta,
    readonly sha256: string,
  ) {}

  static async load(modelPath: string, opts: AnonymizerOptions = {}): Promise<Anonymizer> {
    const file = resolveCheckpointPath(modelPath);
    const meta = readCheckpointMeta(file);
    const config = structuredClone(meta.config);
    if (opts.device) config.device = opts.device;
    if (opts.threads !== undefined) config.threads = opts.threads;
    const engine = new SpactEngine(config, meta.labels);
    await engine.load(file, true);
    return new Anonymizer(engine, file, meta, fileSha256(file));
  }

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Frames uint8 RGB [n, h, w, 3] of any size → anonymized frames of the same shape. Calls from
   * several users (an export job and a live preview) are queued, not rejected as busy.
   */
  anonymize(frames: Uint8Array, n: number, h: number, w: number): Promise<Uint8Array> {
    const run = this.queue.then(() => this.engine.anonymize(frames, n, h, w));
    this.queue = run.catch(() => undefined);
    return run;
  }

  get device(): string {
    return this.engine.describe().device;
  }
}
