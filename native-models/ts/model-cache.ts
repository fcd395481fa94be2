// A bounded cache of loaded models (anonymizers): least recently used out first. An evicted model
// is closed — its native memory freed now, not whenever the garbage collector runs (V8 does not
// see the weights behind a small JS object) — unless a caller has pinned it for a job, in which
// case it is closed when the last pin is released.

/** What the cache holds: anything that can free itself. */
export interface Closable {
  close(): Promise<void> | void;
}

/** Models kept loaded at once by default (one per model and engine settings). */
export const DEFAULT_MODEL_CACHE_SIZE = 2;

/** The cache size from SPACT_MODEL_CACHE_SIZE (an integer ≥ 1), else the default. */
export function modelCacheSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SPACT_MODEL_CACHE_SIZE;
  if (raw === undefined || raw === '') return DEFAULT_MODEL_CACHE_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`SPACT_MODEL_CACHE_SIZE must be an integer ≥ 1, got "${raw}"`);
  return n;
}

export class ModelCache<T extends Closable> {
  /** Map order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, Promise<T>>();
  private readonly pins = new Map<Promise<T>, number>();
  /** Evicted while pinned: closed on the last unpin. */
  private readonly retired = new Set<Promise<T>>();

  constructor(readonly capacity: number = DEFAULT_MODEL_CACHE_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`the model cache size must be an integer ≥ 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The model under `key`, loading it on a miss; may evict (and close) the least recently used. */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = load();
    // A failed load leaves no entry behind (the next caller tries again).
    p.catch(() => {
      if (this.entries.get(key) === p) this.entries.delete(key);
    });
    this.entries.set(key, p);
    while (this.entries.size > this.capacity) {
      const [oldest] = this.entries.keys();
      this.evict(oldest!);
    }
    return p;
  }

  /** Runs `job` with the model under `key` pinned: eviction meanwhile closes it only after the job. */
  async use<R>(key: string, load: () => Promise<T>, job: (model: T) => Promise<R>): Promise<R> {
    const { model, release } = await this.acquire(key, load);
    try {
      return await job(model);
    } finally {
      release();
    }
  }

  /**
   * The model under `key`, pinned until `release()` is called (idempotent): for a holder whose
   * lifetime is not one call, e.g. a live stream that runs until it is stopped.
   */
  async acquire(key: string, load: () => Promise<T>): Promise<{ model: T; release: () => void }> {
    const p = this.get(key, load);
    this.pins.set(p, (this.pins.get(p) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = this.pins.get(p)! - 1;
      if (left > 0) this.pins.set(p, left);
      else {
        this.pins.delete(p);
        if (this.retired.delete(p)) void closeWhenLoaded(p);
      }
    };
    try {
      return { model: await p, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Evicts (and closes) every entry whose key matches. */
  evictWhere(match: (key: string) => boolean): void {
    for (const key of this.keys()) if (match(key)) this.evict(key);
  }

  /** Evicts everything; resolves when every unpinned model is closed. */
  async clear(): Promise<void> {
    const closing = this.keys().map((key) => this.evict(key));
    await Promise.all(closing);
  }

  private evict(key: string): Promise<void> {
    const p = this.entries.get(key);
    if (!p) return Promise.resolve();
    this.entries.delete(key);
    if (this.pins.has(p)) {
      this.retired.add(p);
      return Promise.resolve();
    }
    return closeWhenLoaded(p);
  }
}

/** Closes a model once its load has settled (a failed load has nothing to close). */
async function closeWhenLoaded<T extends Closable>(p: Promise<T>): Promise<void> {
  let model: T;
  try {
    model = await p;
  } catch {
    return;
  }
  await model.close();
}
