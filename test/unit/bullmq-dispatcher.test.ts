// The BullMQ dispatcher while its Redis server is unreachable: the admin view answers
// 'unavailable' instead of waiting, and a job cancelled meanwhile ends cancelled.
import { describe, expect, it } from 'vitest';

import { BullmqDispatcher, redisConnection } from '../../electron/core/jobs/bullmq-queue.js';
import type { JobContext } from '../../electron/core/jobs/job-runner.js';
import { freePort } from '../helpers/redis.js';

describe('BullMQ dispatcher without its Redis', () => {
  it('reports unavailable workers and lets a waiting job be cancelled', async () => {
    const d = new BullmqDispatcher({ redis: `redis://127.0.0.1:${await freePort()}` });
    try {
      await expect(d.workers()).rejects.toMatchObject({ kind: 'unavailable' });
      const controller = new AbortController();
      const ctx: JobContext = { signal: controller.signal, progress: () => undefined };
      const run = d.dispatch({ id: 1, kind: 'anonymize', data: {} }, ctx);
      controller.abort();
      await expect(run).rejects.toMatchObject({ kind: 'cancelled' });
    } finally {
      await d.close();
    }
  }, 30_000);

  it('reads redis:// and rediss:// URLs, and refuses others', () => {
    expect(redisConnection('redis://:s3cret@10.0.0.5:6380/2')).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      password: 's3cret',
      db: 2,
    });
    expect(redisConnection('rediss://cache.lan')).toMatchObject({ host: 'cache.lan', port: 6379, tls: {} });
    expect(() => redisConnection('http://cache.lan')).toThrow(/not a Redis URL/);
  });
});
