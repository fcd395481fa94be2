// The contract is checked where messages are made: responses in the dispatcher, events in the
// event hub (in development and tests), and error kinds are parsed, never trusted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AppInfo, JobView } from '../../electron/contract.js';
import { ApiDispatcher } from '../../electron/core/api-dispatcher.js';
import { BridgeServer } from '../../electron/core/bridge/bridge-server.js';
import { contractChecksEnabled, SpactError, toApiError } from '../../electron/core/errors.js';
import { EventHub } from '../../electron/core/event-hub.js';

const info: AppInfo = {
  name: 'spact-desktop',
  version: '0.0.0',
  transport: 'ipc',
  node: 'v20',
  platform: 'linux-x64',
  engine: { available: false, reason: 'test' },
};

const job: JobView = {
  id: 1,
  kind: 'anonymize',
  status: 'running',
  progress: 0.5,
  message: null,
  error: null,
  result: null,
  createdAt: '2026-12-03T08:00:00.000Z',
  clipId: 3,
};

describe('contract checks', () => {
  it('are on in development and tests, off in production unless SPACT_VALIDATE_CONTRACT=1', () => {
    expect(contractChecksEnabled()).toBe(true); // vitest: NODE_ENV=test
    expect(contractChecksEnabled({ NODE_ENV: 'test' })).toBe(true);
    expect(contractChecksEnabled({})).toBe(true);
    expect(contractChecksEnabled({ NODE_ENV: 'production' })).toBe(false);
    expect(contractChecksEnabled({ NODE_ENV: 'production', SPACT_VALIDATE_CONTRACT: '1' })).toBe(true);
  });

  it('a handler answering a wrong shape gets an internal error naming the method, and it is reported', async () => {
    const reported: string[] = [];
    const wrong = { ...info, engine: { available: 'yes' } } as unknown as AppInfo;
    const d = new ApiDispatcher({ 'app.info': () => wrong }, { onViolation: (m) => reported.push(m) });
    const res = await d.dispatch('app.info', {}, { transport: 'ipc' });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.error.kind).toBe('internal');
    expect(res.error.message).toContain('app.info');
    expect(res.error.message).toContain('engine');
    expect(reported).toEqual([res.error.message]);

    // A right shape passes unchanged, and nothing is reported.
    const ok = new ApiDispatcher({ 'app.info': () => info }, { onViolation: (m) => reported.push(m) });
    expect(await ok.dispatch('app.info', {}, { transport: 'ipc' })).toEqual({ ok: true, value: info });
    expect(reported).toHaveLength(1);

    // With checks off (production) the same wrong value goes through: the check above is what refused it.
    const off = new ApiDispatcher({ 'app.info': () => wrong }, { validateResponses: false });
    expect(await off.dispatch('app.info', {}, { transport: 'ipc' })).toEqual({ ok: true, value: wrong });
  });

  it('checks responses by default under vitest (the app wires no option)', async () => {
    const d = new ApiDispatcher(
      { 'jobs.list': () => [{ ...job, status: 'paused' }] as unknown as JobView[] },
      { onViolation: () => undefined },
    );
    const res = await d.dispatch('jobs.list', {}, { transport: 'bridge' });
    expect(res.ok ? null : res.error).toMatchObject({
      kind: 'internal',
      message: expect.stringContaining('jobs.list'),
    });
  });

  it('an event with a wrong shape is not sent, and is reported with its name', () => {
    const reported: string[] = [];
    const hub = new EventHub({ onViolation: (m) => reported.push(m) });
    const seen: unknown[] = [];
    hub.subscribe((event, payload) => seen.push([event, payload]));

    expect(hub.emit('job.updated', { ...job, progress: 'half' } as unknown as JobView)).toBe(false);
    expect(seen).toEqual([]);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toContain('job.updated');
    expect(reported[0]).toContain('progress');

    expect(hub.emit('job.updated', job)).toBe(true);
    expect(seen).toEqual([['job.updated', job]]);
    expect(reported).toHaveLength(1);
  });

  it('a live frame is sized by its own geometry: a 1080p frame passes, bytes that do not match are refused', () => {
    const reported: string[] = [];
    const hub = new EventHub({ onViolation: (m) => reported.push(m) });
    const frame = (width: number, height: number, bytes: number, raw?: number) => ({
      streamId: 1,
      width,
      height,
      anonymized: new Uint8Array(bytes),
      ...(raw === undefined ? {} : { raw: new Uint8Array(raw) }),
      fps: 10,
      latencyMs: 20,
    });
    // 6.2 MB: above the old fixed 6 MB cap, which dropped every frame of a 1080p live view.
    expect(hub.emit('live.frame', frame(1920, 1080, 1920 * 1080 * 3, 1920 * 1080 * 3))).toBe(true);
    expect(hub.emit('live.frame', frame(320, 240, 320 * 240 * 3 - 1))).toBe(false);
    expect(hub.emit('live.frame', frame(320, 240, 320 * 240 * 3, 100))).toBe(false);
    expect(reported).toHaveLength(2);
    expect(reported[0]).toContain('width × height × 3');
  });
});

describe('error kinds', () => {
  const withKind = (kind: string) => Object.assign(new Error(`failed (${kind})`), { kind });

  it('are parsed with the contract: a kind outside ErrorKind is internal', () => {
    expect(toApiError(withKind('weird'))).toEqual({ kind: 'internal', message: 'failed (weird)' });
    expect(toApiError(withKind('bad-input'))).toEqual({ kind: 'bad-input', message: 'failed (bad-input)' });
    expect(toApiError(Object.assign(new Error('n'), { kind: 42 }))).toEqual({ kind: 'internal', message: 'n' });
    // Even a SpactError forged past the type checker.
    const forged = new SpactError('weird' as unknown as 'internal', 'forged');
    expect(toApiError(forged)).toEqual({ kind: 'internal', message: 'forged' });
    expect(toApiError(new SpactError('not-found', 'gone', { id: 7 }))).toEqual({
      kind: 'not-found',
      message: 'gone',
      details: { id: 7 },
    });
  });

  describe('through the bridge', () => {
    const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-static-'));
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
    let thrown: Error = withKind('weird');
    const dispatcher = new ApiDispatcher({
      'app.info': () => {
        throw thrown;
      },
    });
    const bridge = new BridgeServer({ dispatcher, events: new EventHub(), staticDir });
    beforeAll(() => bridge.start());
    afterAll(async () => {
      await bridge.stop();
      fs.rmSync(staticDir, { recursive: true, force: true });
    });
    const call = () =>
      fetch(`${bridge.origin}/api/app.info`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bridge.token}`, 'Content-Type': 'application/json' },
        body: '{}',
      });

    it('an unknown kind answers HTTP 500 internal, a known one its own status', async () => {
      const res = await call();
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ ok: false, error: { kind: 'internal', message: 'failed (weird)' } });

      thrown = withKind('bad-input');
      const known = await call();
      expect(known.status).toBe(400);
      expect(((await known.json()) as { error: { kind: string } }).error.kind).toBe('bad-input');
    });
  });
});
