// The bounded model cache: least recently used out first, an evicted model closed (its native
// memory freed) unless a job has it pinned — then when the job ends — and an evicted Anonymizer
// refuses further use with an error that says it was closed.
import { describe, expect, it } from 'vitest';

import { Anonymizer, AnonymizerClosedError } from '../../native-models/ts/anonymizer.js';
import { ModelCache, modelCacheSizeFromEnv } from '../../native-models/ts/model-cache.js';
import { defaultModelDir } from '../../native-models/ts/models.js';

class FakeModel {
  closes = 0;
  constructor(readonly name: string) {}
  close(): void {
    this.closes++;
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('model cache', () => {
  it('evicts the least recently used model and closes it', async () => {
    const cache = new ModelCache<FakeModel>(2);
    const models = new Map<string, FakeModel>();
    const load = (k: string) => () => {
      const m = new FakeModel(k);
      models.set(k, m);
      return Promise.resolve(m);
    };
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('a', load('a')); // a is now the most recent
    await cache.get('c', load('c')); // evicts b
    await flush();
    expect(cache.keys()).toEqual(['a', 'c']);
    expect(models.get('b')!.closes).toBe(1);
    expect(models.get('a')!.closes).toBe(0);
    // A hit does not load again.
    let loads = 0;
    await cache.get('c', () => (loads++, Promise.resolve(new FakeModel('c2'))));
    expect(loads).toBe(0);
    await cache.clear();
    expect(models.get('a')!.closes + models.get('c')!.closes).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('keeps a leased model (a live stream) open past eviction until the lease is released, once', async () => {
    const cache = new ModelCache<FakeModel>(1);
    const a = new FakeModel('a');
    const first = await cache.acquire('a', () => Promise.resolve(a));
    const second = await cache.acquire('a', () => Promise.resolve(new FakeModel('a2')));
    expect(second.model).toBe(a);
    await cache.get('b', () => Promise.resolve(new FakeModel('b'))); // evicts a while two hold it
    first.release();
    first.release(); // a second release of the same lease does not count as the other holder's
    await flush();
    expect(a.closes).toBe(0);
    second.release();
    await flush();
    expect(a.closes).toBe(1);
    // A failed load pins nothing and leaves no entry (it still made room for itself: b is gone).
    await expect(cache.acquire('c', () => Promise.reject(new Error('no such file')))).rejects.toThrow('no such file');
    expect(cache.size).toBe(0);
  });

  it('closes a pinned model only when its job ends', async () => {
    const cache = new ModelCache<FakeModel>(1);
    const a = new FakeModel('a');
    let release!: () => void;
    const job = cache.use(
      'a',
      () => Promise.resolve(a),
      () => new Promise<string>((r) => (release = () => r('done'))),
    );
    await flush();
    await cache.get('b', () => Promise.resolve(new FakeModel('b'))); // evicts a while its job runs
    await flush();
    expect(a.closes).toBe(0);
    release();
    expect(await job).toBe('done');
    await flush();
    expect(a.closes).toBe(1);
  });

  it('forgets a failed load and validates its size', async () => {
    const cache = new ModelCache<FakeModel>(2);
    await expect(cache.get('x', () => Promise.reject(new Error('no such file')))).rejects.toThrow('no such file');
    await flush();
    expect(cache.size).toBe(0);
    expect(() => new ModelCache<FakeModel>(0)).toThrow(RangeError);
    expect(modelCacheSizeFromEnv({})).toBe(2);
    expect(modelCacheSizeFromEnv({ SPACT_MODEL_CACHE_SIZE: '5' })).toBe(5);
    expect(() => modelCacheSizeFromEnv({ SPACT_MODEL_CACHE_SIZE: 'many' })).toThrow(RangeError);
  });

  it('an evicted Anonymizer is disposed and refuses further use', async () => {
    const cache = new ModelCache<Anonymizer>(1);
    const load = () => Anonymizer.load(defaultModelDir(), { threads: 2 });
    const first = await cache.get('first', load);
    expect((await first.anonymize(new Uint8Array(32 * 32 * 3), 1, 32, 32)).length).toBe(32 * 32 * 3);
    const second = await cache.get('second', load);
    await flush();
    expect(first.isClosed).toBe(true);
    await expect(first.anonymize(new Uint8Array(32 * 32 * 3), 1, 32, 32)).rejects.toThrow(AnonymizerClosedError);
    expect(second.isClosed).toBe(false);
    await cache.clear();
    expect(second.isClosed).toBe(true);
  });
});
