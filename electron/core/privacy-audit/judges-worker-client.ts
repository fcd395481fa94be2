// The calling side of the judges' worker thread: one request per frame, answered in any order.
// The worker does not keep a process alive on its own: it is referenced only while it works.
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import type { ApiError } from '../../contract.js';
import { SpactError } from '../errors.js';
import { projectRoot } from '../paths.js';
import type { FrameJudge } from './judges.js';

type Method = keyof FrameJudge;
type JudgeRequestBody = { method: 'load' } | { method: Method; rgb: Uint8Array; width: number; height: number };
export type JudgeRequest = JudgeRequestBody & { id: number };
export type JudgeReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: ApiError };

export function judgesWorkerEntry(): string {
  return path.join(projectRoot(), 'dist', 'node', 'electron', 'core', 'privacy-audit', 'judges-worker.js');
}

export class JudgesWorker implements FrameJudge {
  private readonly pending = new Map<number, (r: JudgeReply) => void>();
  private nextId = 1;
  private failure: SpactError | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: JudgeReply) => {
      const settle = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (this.pending.size === 0) worker.unref();
      settle?.(r);
    });
    const fail = (why: string) => {
      this.failure = new SpactError('unavailable', `the privacy judges stopped: ${why}`);
      for (const settle of this.pending.values())
        settle({ id: 0, ok: false, error: { kind: 'unavailable', message: this.failure.message } });
      this.pending.clear();
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    worker.unref();
  }

  /** Starts the worker and waits until its models are loaded (seconds). */
  static async start(): Promise<JudgesWorker> {
    const w = new JudgesWorker(new Worker(judgesWorkerEntry()));
    try {
      await w.request({ method: 'load' });
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  persons(rgb: Uint8Array, width: number, height: number) {
    return this.request({ method: 'persons', rgb, width, height }) as ReturnType<FrameJudge['persons']>;
  }

  pose(rgb: Uint8Array, width: number, height: number) {
    return this.request({ method: 'pose', rgb, width, height }) as ReturnType<FrameJudge['pose']>;
  }

  analyze(rgb: Uint8Array, width: number, height: number) {
    return this.request({ method: 'analyze', rgb, width, height }) as ReturnType<FrameJudge['analyze']>;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private request(body: JudgeRequestBody): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => (r.ok ? resolve(r.value) : reject(new SpactError(r.error.kind, r.error.message))));
      this.worker.ref();
      this.worker.postMessage({ ...body, id });
    });
  }
}
