// `spact worker`: a headless process that takes jobs from the BullMQ queue (jobs/bullmq-queue.ts)
// and talks to the app only through its data channel (work-channel.ts). Per job:
// - the model's checkpoint is fetched by its sha256 (verified), loaded, and its file deleted (the
//   engine is kept in memory for the next job of that model);
// - the clip arrives over the channel and is sealed as it arrives (AES-256-GCM, vault/sealed-file.ts)
//   with a key of this process that nothing on disk can unwrap; ffmpeg reads it through the
//   loopback feed (vault/raw-feed.ts): raw video is never written to this machine in the clear;
// - the output is written in the job's temporary folder, uploaded with its sha256, and the folder
//   is removed when the job ends, whatever the end.
// A fine-tune job does the same with the base model's file and the room's clips: finetune() runs
// in the job's folder (its training frames sealed with the same key), each step is reported to the
// app as the job's progress, and the chosen checkpoint is uploaded.
// BullMQ renews the worker's lock on its jobs (its heartbeat for the queue); a heartbeat key tells
// the app's admin view the worker's device, jobs and throughput, and brings drain and cancel requests.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import { UnrecoverableError, Worker, type Job } from 'bullmq';

import { Anonymizer } from '../../../native-models/ts/anonymizer.js';
import { ModelCache, modelCacheSizeFromEnv } from '../../../native-models/ts/model-cache.js';
import { anonymizeFile, ENGINE_DEFAULTS } from '../anonymize/anonymize-service.js';
import { nowIso } from '../db/database.js';
import { SpactError, toApiError } from '../errors.js';
import { failedReasonOf, HEARTBEAT_MS, queueKeys, queueNameOf, redisConnection } from '../jobs/bullmq-queue.js';
import type { WorkerInfo } from '../jobs/job-queue.js';
import { pidAlive } from '../jobs/reconcile.js';
import { SealedWriter } from '../vault/sealed-file.js';
import { Vault } from '../vault/vault.js';
import { sha256File } from '../library/library-service.js';
import { Judges } from '../privacy-audit/judges.js';
import { finetune } from '../training/finetune.js';
import { trainingFiguresOf } from './distributed.js';
import type {
  RemoteAnonymizeData,
  RemoteAnonymizeResult,
  RemoteFinetuneData,
  RemoteFinetuneReport,
  RemoteFinetuneResult,
} from './distributed.js';

export interface SpactWorkerOptions {
  redis: string;
  /** The app's data channel, http(s)://HOST:PORT. */
  app: string;
  token: string;
  concurrency?: number;
  /** auto | cpu | cuda | cuda:N (default auto: CUDA when present). */
  device?: string;
  /** libtorch threads per job (0: all cores). */
  threads?: number;
  memoryBudgetMiB?: number;
  /** Parent of this worker's temporary folder (default: the system's). */
  tmpDir?: string;
  id?: string;
  /** PEM of a CA to trust for an https channel (a clinic's own). */
  ca?: string;
  /** How long a job's lock lives without renewal (ms): a dead worker's job is retried after it. */
  lockMs?: number;
  /** How often workers look for stalled jobs (ms). */
  stalledMs?: number;
  /** The app's queue name (default spact-jobs). */
  queue?: string;
  log?: (line: string) => void;
}

const RETRYABLE = new Set(['internal', 'unavailable']);

export class SpactWorker {
  readonly id: string;
  /** This worker's temporary folder (removed when it stops). */
  readonly workDir: string;
  private worker: Worker | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly active = new Map<string, { rowId: number; controller: AbortController }>();
  /** Loaded models, bounded (SPACT_MODEL_CACHE_SIZE): a worker serving many rooms' models keeps a few. */
  private readonly engines = new ModelCache<Anonymizer>(modelCacheSizeFromEnv());
  private done = 0;
  private draining = false;
  private readonly startedAt = Date.now();
  private readonly app: URL;
  private readonly keys: ReturnType<typeof queueKeys>;
  private stopped: Promise<void> | null = null;
  private ownVault: Vault | null = null;
  /** The person and pose judges of room fine-tunes, loaded on the first one. */
  private judges: Promise<Judges> | null = null;
  private resolveEnded!: () => void;
  /** Resolves when the worker has stopped (closed, or drained on the app's request). */
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(private readonly opts: SpactWorkerOptions) {
    this.id = opts.id ?? `${os.hostname()}-${process.pid}`;
    this.app = new URL(opts.app);
    this.keys = queueKeys(queueNameOf(opts.queue));
    if (this.app.protocol !== 'http:' && this.app.protocol !== 'https:')
      throw new SpactError('validation', `--app must be an http(s) URL, got "${opts.app}"`);
    const parent = opts.tmpDir ?? os.tmpdir();
    removeDeadWorkDirs(parent);
    this.workDir = fs.mkdtempSync(path.join(parent, `spact-worker-${process.pid}-`));
    fs.chmodSync(this.workDir, 0o700);
  }

  private log(line: string): void {
    (this.opts.log ?? ((l) => process.stderr.write(`${l}\n`)))(line);
  }

  async start(): Promise<void> {
    await this.checkToken();
    const lockDuration = this.opts.lockMs ?? 10_000;
    this.worker = new Worker(this.keys.queue, (job) => this.process(job), {
      connection: redisConnection(this.opts.redis),
      concurrency: this.opts.concurrency ?? 1,
      lockDuration,
      stalledInterval: this.opts.stalledMs ?? lockDuration / 2,
      // Stalled once: back to the queue for another worker; twice: failed (it kills workers).
      maxStalledCount: 1,
    });
    this.worker.on('error', (err) => this.log(`worker ${this.id}: redis: ${err.message}`));
    await this.worker.waitUntilReady();
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
    this.log(`worker ${this.id}: ready (device ${this.device}, concurrency ${this.opts.concurrency ?? 1})`);
  }

  private get device(): string {
    return this.opts.device ?? ENGINE_DEFAULTS.device;
  }

  private info(): WorkerInfo {
    const minutes = Math.max((Date.now() - this.startedAt) / 60_000, 1 / 60);
    return {
      id: this.id,
      host: os.hostname(),
      device: this.device,
      threads: this.opts.threads ?? ENGINE_DEFAULTS.threads,
      concurrency: this.opts.concurrency ?? 1,
      current: [...this.active.values()].map((a) => a.rowId),
      done: this.done,
      perMinute: Math.round((this.done / minutes) * 100) / 100,
      startedAt: new Date(this.startedAt).toISOString(),
      lastSeen: nowIso(),
      draining: this.draining,
    };
  }

  /** The heartbeat: what the admin view shows; brings cancel and drain requests back. */
  private async beat(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const client = await worker.client;
    for (const [bullId, a] of this.active)
      if (!a.controller.signal.aborted && (await client.get(this.keys.cancel(bullId)))) a.controller.abort();
    if (!this.draining && (await client.get(this.keys.drain(this.id)))) {
      this.draining = true;
      await client.del(this.keys.drain(this.id));
      this.log(`worker ${this.id}: draining (finishing ${this.active.size} job(s), taking no more)`);
      void this.close();
    }
    await client.hset(this.keys.workers, { [this.id]: JSON.stringify(this.info()) });
  }

  /** Finishes the running jobs, takes no more, removes its heartbeat and its temporary folder. */
  close(): Promise<void> {
    this.stopped ??= (async () => {
      this.draining = true;
      const worker = this.worker;
      if (worker) {
        // The heartbeat goes on while running jobs finish: cancels still reach them, the admin view still shows them.
        await worker.close();
        if (this.heartbeat) clearInterval(this.heartbeat);
        const client = await worker.client.catch(() => null);
        await client?.hdel(this.keys.workers, this.id).catch(() => undefined);
        await worker.disconnect().catch(() => undefined);
      }
      if (this.heartbeat) clearInterval(this.heartbeat);
      await this.engines.clear();
      const judges = await this.judges?.catch(() => null);
      await judges?.close();
      fs.rmSync(this.workDir, { recursive: true, force: true });
      this.resolveEnded();
    })();
    return this.stopped;
  }

  private async process(job: Job): Promise<RemoteAnonymizeResult | RemoteFinetuneResult> {
    const bullId = job.id ?? '';
    const rowId = Number(/^job-(\d+)-/.exec(bullId)?.[1] ?? 0);
    const controller = new AbortController();
    this.active.set(bullId, { rowId, controller });
    const jobDir = fs.mkdtempSync(path.join(this.workDir, 'job-'));
    this.log(`worker ${this.id}: job ${rowId}: started`);
    try {
      const t0 = performance.now();
      let result: RemoteAnonymizeResult | RemoteFinetuneResult;
      if (job.name === 'anonymize') result = await this.anonymize(job, jobDir, controller.signal);
      else if (job.name === 'finetune') result = await this.finetune(job, jobDir, controller.signal);
      else throw new SpactError('validation', `this worker runs anonymize and finetune jobs, not "${job.name}"`);
      this.done++;
      this.log(`worker ${this.id}: job ${rowId}: done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      // The heartbeat says so before the job completes: the admin view is never behind it.
      this.active.delete(bullId);
      await this.beat().catch(() => undefined);
      return result;
    } catch (err) {
      // A cancel may surface as an aborted download: it is still a cancel, not retried.
      const e = controller.signal.aborted ? toApiError(new SpactError('cancelled', 'cancelled')) : toApiError(err);
      this.log(`worker ${this.id}: job ${rowId}: ${e.kind}: ${e.message}`);
      if (e.kind === 'unauthorized') {
        // This worker's token was revoked or replaced: the job is fine, this worker is not.
        this.log(`worker ${this.id}: the app no longer accepts this worker's token; stopping`);
        setImmediate(() => void this.close());
        throw new Error(failedReasonOf(e));
      }
      // Not worth another attempt (bad input, cancelled, missing): failed at once.
      if (!RETRYABLE.has(e.kind)) throw new UnrecoverableError(failedReasonOf(e));
      throw new Error(failedReasonOf(e));
    } finally {
      this.active.delete(bullId);
      fs.rmSync(jobDir, { recursive: true, force: true });
    }
  }

  /** An anonymize job: the model (cached), the clip sealed as it arrives, the output uploaded. */
  private async anonymize(job: Job, jobDir: string, signal: AbortSignal): Promise<RemoteAnonymizeResult> {
    const data = job.data as RemoteAnonymizeData;
    const t0 = performance.now();
    const lease = await this.anonymizerFor(data.model.sha256, jobDir);
    try {
      const loaded = performance.now();
      const input = await this.fetchInput(data.grant, jobDir, 0, signal);
      const fetched = performance.now();
      const out = path.join(jobDir, 'output.mp4');
      let lastProgress = 0;
      const r = await anonymizeFile(lease.model, input, out, data.settings, {
        signal,
        personHeightFraction: data.personHeightFraction,
        onProgress: (done, total) => {
          const now = Date.now();
          if (!total || now - lastProgress < 500) return;
          lastProgress = now;
          void job.updateProgress(Math.min(0.99, done / total)).catch(() => undefined);
        },
      });
      if (signal.aborted) throw new SpactError('cancelled', 'cancelled');
      await this.upload(out, r.sha256, data.grant);
      const s = (ms: number) => (ms / 1000).toFixed(2);
      this.log(
        `worker ${this.id}: anonymized in ${s(performance.now() - t0)} s (model ${s(loaded - t0)} s, input ${s(fetched - loaded)} s, anonymize ${s(r.seconds * 1000)} s)`,
      );
      return {
        sha256: r.sha256,
        frames: r.frames,
        videoFps: r.videoFps,
        durationS: r.durationS,
        settings: r.settings,
        engine: { device: lease.model.device, threads: lease.model.threads },
        worker: this.id,
      };
    } finally {
      lease.release();
    }
  }

  /**
   * A fine-tune's training: the base model's file (verified), the room's clips sealed as they
   * arrive, finetune() in the job's folder (its frames sealed with this worker's key), each step
   * and status line reported to the app, the chosen checkpoint uploaded.
   */
  private async finetune(job: Job, jobDir: string, signal: AbortSignal): Promise<RemoteFinetuneResult> {
    const data = job.data as RemoteFinetuneData;
    const base = await this.fetchModel(data.base.sha256, jobDir, signal);
    const footage: string[] = [];
    for (let i = 0; i < data.inputs; i++) footage.push(await this.fetchInput(data.grant, jobDir, i, signal));
    // Reports in order: each waits for the one before (BullMQ publishes them as events). This
    // attempt announces itself first; the app follows the newest attempt of a run.
    const attempt = randomBytes(8).toString('hex');
    const warnings: string[] = [];
    let reports = Promise.resolve();
    const send = (r: RemoteFinetuneReport) => {
      reports = reports.then(() => job.updateProgress(r).then(() => undefined)).catch(() => undefined);
    };
    send({ type: 'attempt', attempt });
    const room = data.recipe === 'room';
    if (room) send({ type: 'status', attempt, message: 'loading the person and pose judges (on a worker)…' });
    const judges = room ? await this.loadJudges() : null;
    const out = path.join(jobDir, 'run');
    const r = await finetune({
      footage,
      base,
      out,
      recipe: data.recipe,
      ...(data.steps !== null ? { steps: data.steps } : {}),
      ...(data.clips !== null ? { clips: data.clips } : {}),
      ...(data.size !== null ? { size: data.size } : {}),
      ...(judges ? { judges, cacheDir: path.join(jobDir, 'labels') } : {}),
      engine: { device: this.device, ...(this.opts.threads !== undefined ? { threads: this.opts.threads } : {}) },
      cipher: this.vault().recordCipher,
      signal,
      onProgress: (progress) => send({ type: 'progress', attempt, progress: { ...progress } }),
      onStatus: (message) => send({ type: 'status', attempt, message }),
      onWarning: (message) => {
        warnings.push(message);
        send({ type: 'warning', attempt, message });
      },
    });
    await reports;
    if (signal.aborted || r.stopReason === 'cancelled') throw new SpactError('cancelled', 'cancelled');
    const sha256 = await sha256File(r.checkpoint);
    await this.upload(r.checkpoint, sha256, data.grant, 'application/octet-stream');
    return {
      checkpoint: { name: path.basename(r.checkpoint), sha256 },
      ...trainingFiguresOf(r),
      workingSize: r.workingSize ?? null,
      // The held-out part by input index (the app knows its clips; this worker's paths mean nothing there).
      selection: r.selection
        ? { ...r.selection, part: { ...r.selection.part, file: `input-${footage.indexOf(r.selection.part.file)}` } }
        : null,
      warnings,
      worker: this.id,
    };
  }

  /** The person and pose judges (room fine-tunes), loaded once; a failed load is tried again next time. */
  private loadJudges(): Promise<Judges> {
    this.judges ??= Judges.load().catch((err: unknown) => {
      this.judges = null;
      throw err;
    });
    return this.judges;
  }

  /**
   * Refuses to start with a token the app does not know (replaced, mistyped, or the wrong app): such
   * a worker would take every job within milliseconds and fail each one.
   */
  private async checkToken(): Promise<void> {
    const res = await this.response(this.request('HEAD', `/v1/models/${'0'.repeat(64)}`)).catch((err: Error) => {
      throw new SpactError('unavailable', `the app at ${this.app.origin} cannot be reached: ${err.message}`);
    });
    res.resume();
    if (res.statusCode === 401)
      throw new SpactError(
        'unauthorized',
        `the app at ${this.app.origin} does not accept this worker's token: issue one on the app's machine with spact worker --issue-token NAME`,
      );
  }

  /** Headers and agent options of a request to the app; a cancelled job's signal ends it. */
  private request(
    method: string,
    pathname: string,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): http.ClientRequest {
    const url = new URL(pathname, this.app);
    const options = {
      method,
      headers: { ...headers, Authorization: `Bearer ${this.opts.token}` },
      ...(signal ? { signal } : {}),
    };
    return url.protocol === 'https:'
      ? https.request(url, { ...options, ...(this.opts.ca ? { ca: this.opts.ca } : {}) })
      : http.request(url, options);
  }

  private async response(req: http.ClientRequest, body?: fs.ReadStream): Promise<http.IncomingMessage> {
    const res = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
    });
    if (body) await pipeline(body, req);
    else req.end();
    return res;
  }

  private async failure(res: http.IncomingMessage, what: string): Promise<SpactError> {
    let text = '';
    for await (const c of res) text += String(c);
    const kind = res.statusCode === 401 ? 'unauthorized' : res.statusCode === 404 ? 'not-found' : 'unavailable';
    return new SpactError(kind, `${what}: the app answered ${res.statusCode} ${text.slice(0, 200)}`.trim());
  }

  /** The model's anonymizer, fetched by hash on first use (the file is deleted once loaded), held until released. */
  private anonymizerFor(sha256: string, jobDir: string): Promise<{ model: Anonymizer; release: () => void }> {
    const key = `${sha256}|${this.device}|${this.opts.threads ?? ''}`;
    return this.engines.acquire(key, async () => {
      const file = await this.fetchModel(sha256, jobDir);
      try {
        return await Anonymizer.load(file, {
          device: this.device,
          ...(this.opts.threads !== undefined ? { threads: this.opts.threads } : {}),
          memoryBudgetMiB: this.opts.memoryBudgetMiB ?? ENGINE_DEFAULTS.memoryBudgetMiB,
        });
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  }

  /** A registered model's checkpoint by its hash, into the job's folder, verified. */
  private async fetchModel(sha256: string, jobDir: string, signal?: AbortSignal): Promise<string> {
    const file = path.join(jobDir, `model-${sha256.slice(0, 16)}.pt`);
    const res = await this.response(this.request('GET', `/v1/models/${sha256}`, {}, signal));
    if (res.statusCode !== 200) throw await this.failure(res, `model ${sha256.slice(0, 12)}`);
    const hash = createHash('sha256');
    await pipeline(
      res,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      fs.createWriteStream(file, { mode: 0o600 }),
    );
    if (hash.digest('hex') !== sha256) {
      fs.rmSync(file, { force: true });
      throw new SpactError('unavailable', `model ${sha256.slice(0, 12)} arrived corrupt (sha256)`);
    }
    return file;
  }

  /**
   * This worker's vault: a key made at start and wrapped by a passphrase that only this process
   * ever holds, so what it seals is unreadable once it exits (or is killed).
   */
  private vault(): Vault {
    this.ownVault ??= Vault.open(path.join(this.workDir, 'vault'), { passphrase: randomBytes(32).toString('hex') });
    return this.ownVault;
  }

  /**
   * The grant's input, sealed with the worker's vault as it arrives: ffmpeg reads it through the
   * loopback feed (vault/raw-feed.ts) like the app's own footage, never a plaintext file.
   */
  private async fetchInput(grant: string, jobDir: string, index = 0, signal?: AbortSignal): Promise<string> {
    const res = await this.response(this.request('GET', `/v1/input/${grant}/${index}`, {}, signal));
    if (res.statusCode !== 200) throw await this.failure(res, 'input');
    const writer = new SealedWriter(path.join(jobDir, `input-${index}.sealed`), this.vault());
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) writer.write(chunk);
      writer.finish();
    } catch (err) {
      writer.abort();
      throw new SpactError('unavailable', `input: ${(err as Error).message}`);
    }
    return writer.file;
  }

  private async upload(file: string, sha256: string, grant: string, type = 'video/mp4'): Promise<void> {
    const size = fs.statSync(file).size;
    const req = this.request('PUT', `/v1/output/${grant}`, {
      'Content-Type': type,
      'Content-Length': String(size),
      'X-Content-SHA256': sha256,
    });
    const res = await this.response(req, fs.createReadStream(file));
    if (res.statusCode !== 200) throw await this.failure(res, 'upload');
    res.resume();
  }
}

/**
 * Removes the folders of this machine's workers that died (killed, power cut): a new worker cleans
 * up after them, so a job's temporary files never outlive the next start.
 */
export function removeDeadWorkDirs(parent: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = /^spact-worker-(\d+)-/.exec(name)?.[1];
    if (!pid || pidAlive(Number(pid))) continue;
    fs.rmSync(path.join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
