import { describe, expect, it } from 'vitest';

import { ApiDispatcher, type Handlers } from '../../electron/core/api-dispatcher.js';
import { SpactError } from '../../electron/core/errors.js';
import type { AppInfo } from '../../electron/contract.js';

const info: AppInfo = {
  name: 'spact-desktop',
  version: '0.0.0',
  transport: 'ipc',
  node: 'v20',
  platform: 'linux-x64',
  engine: { available: false, reason: 'test' },
};

describe('ApiDispatcher', () => {
  it('runs the handler for a valid call', async () => {
    const d = new ApiDispatcher({
      'app.info': (_r, ctx) => ({ ...info, transport: ctx.transport }),
    } satisfies Partial<Handlers>);
    const res = await d.dispatch('app.info', {}, { transport: 'bridge' });
    expect(res).toEqual({ ok: true, value: { ...info, transport: 'bridge' } });
  });

  it('rejects unknown methods and prototype keys', async () => {
    const d = new ApiDispatcher({ 'app.info': () => info });
    for (const m of ['nope', 'toString', '__proto__']) {
      const res = await d.dispatch(m, {}, { transport: 'ipc' });
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error.kind).toBe('unknown-method');
    }
  });

  it('rejects payloads that do not match the schema', async () => {
    let called = false;
    const d = new ApiDispatcher({ 'app.info': () => ((called = true), info) });
    const res = await d.dispatch('app.info', { unexpected: 1 }, { transport: 'ipc' });
    expect(called).toBe(false);
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.error.kind).toBe('validation');
      expect(res.error.message).toContain('app.info');
    }
  });

  it('turns thrown errors into data with a kind', async () => {
    const d1 = new ApiDispatcher({
      'app.info': () => {
        throw new SpactError('not-found', 'clip 7 does not exist');
      },
    });
    expect(await d1.dispatch('app.info', {}, { transport: 'ipc' })).toEqual({
      ok: false,
      error: { kind: 'not-found', message: 'clip 7 does not exist' },
    });
    const d2 = new ApiDispatcher({
      'app.info': () => {
        throw new TypeError('boom');
      },
    });
    expect(await d2.dispatch('app.info', {}, { transport: 'ipc' })).toEqual({
      ok: false,
      error: { kind: 'internal', message: 'boom' },
    });
  });
});
