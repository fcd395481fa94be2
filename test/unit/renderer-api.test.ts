// The renderer's API client (renderer/src/lib/api-client.ts) and its contract checks
// (contract-checks.ts), driven through fake fetch and WebSocket: requests as the bridge expects
// them, replies and errors parsed, events dispatched to their listeners only, and a message the
// contract does not allow stopped with an error that names it.
import { describe, expect, it } from 'vitest';

import type { EventOf, Result, SpactApi } from '../../electron/contract.js';
import { createBridgeClient, throwingCall, type EventSocketHandlers } from '../../renderer/src/lib/api-client.js';
import { checkResult, eventViolation, withContractChecks } from '../../renderer/src/lib/contract-checks.js';

interface Sent {
  url: string;
  init: { method: string; headers?: Record<string, string>; body: unknown };
}

/** A bridge client whose fetch answers `reply` and whose events socket the test drives. */
function fakeBridge(reply: (url: string) => unknown = () => ({ ok: true, value: {} })) {
  const sent: Sent[] = [];
  const sockets: EventSocketHandlers[] = [];
  const retries: number[] = [];
  const client = createBridgeClient({
    fetch: async (url, init) => {
      sent.push({ url, init });
      const body = reply(url);
      if (body instanceof Error) throw body;
      return { json: async () => body };
    },
    openEvents: (on) => void sockets.push(on),
    later: (fn, ms) => {
      retries.push(ms);
      fn();
    },
  });
  const push = (event: string, payload: unknown) => sockets.at(-1)!.message(JSON.stringify({ event, payload }));
  return { client, sent, sockets, retries, push };
}

const session: EventOf<'session.changed'> = { role: 'operator', protectedRoles: [], pinLocks: [], lockouts: [] };
const job: EventOf<'job.updated'> = {
  id: 3,
  kind: 'anonymize',
  status: 'running',
  progress: 0.5,
  message: null,
  error: null,
  result: null,
  createdAt: '2026-12-03T12:00:00Z',
};

describe('the bridge client', () => {
  it('posts a call as JSON to /api/<method> with the session cookie and returns its result', async () => {
    const { client, sent } = fakeBridge(() => ({ ok: true, value: session }));
    expect(await client.call('session.switch', { role: 'operator' })).toEqual({ ok: true, value: session });
    expect(sent).toEqual([
      {
        url: '/api/session.switch',
        init: {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          credentials: 'same-origin',
          body: '{"role":"operator"}',
        },
      },
    ]);
  });

  it('answers an unreachable service as an unavailable error instead of throwing', async () => {
    const { client } = fakeBridge(() => new TypeError('Failed to fetch'));
    const r = await client.call('session.get', {});
    expect(r).toEqual({
      ok: false,
      error: { kind: 'unavailable', message: 'the SPAct service is not reachable (TypeError: Failed to fetch)' },
    });
  });

  it('opens one events socket, dispatches each event to its own listeners and stops after off()', () => {
    const { client, sockets, push } = fakeBridge();
    const jobs: unknown[] = [];
    const sessions: unknown[] = [];
    const offJob = client.on('job.updated', (p) => jobs.push(p));
    client.on('session.changed', (p) => sessions.push(p));
    expect(sockets).toHaveLength(1);
    push('job.updated', job);
    push('session.changed', session);
    push('app.heartbeat', { at: 1 });
    expect(jobs).toEqual([job]);
    expect(sessions).toEqual([session]);
    offJob();
    push('job.updated', job);
    expect(jobs).toHaveLength(1);
  });

  it('reconnects a closed socket while someone listens, backing off', () => {
    const { client, sockets, retries } = fakeBridge();
    client.on('job.updated', () => undefined);
    sockets[0]!.close();
    sockets[1]!.close();
    expect(sockets).toHaveLength(3);
    expect(retries).toEqual([1000, 2000]);
    sockets[2]!.open();
    sockets[2]!.close();
    expect(retries.at(-1)).toBe(1000);
  });

  it('throwingCall throws the error with its kind', async () => {
    const { client } = fakeBridge(() => ({ ok: false, error: { kind: 'forbidden', message: 'admins only' } }));
    const call = throwingCall(client);
    await expect(call('session.get', {})).rejects.toMatchObject({ message: 'admins only', kind: 'forbidden' });
  });
});

describe('contract checks in the renderer', () => {
  it('drops a malformed event with an error that names the event and the field', () => {
    const { client, push } = fakeBridge();
    const violations: string[] = [];
    const api = withContractChecks(client, { onViolation: (m) => violations.push(m) });
    const seen: unknown[] = [];
    api.on('job.updated', (p) => seen.push(p));
    push('job.updated', { ...job, progress: 'half' });
    push('job.updated', job);
    expect(seen).toEqual([job]);
    expect(violations).toEqual([
      'event job.updated does not match the contract: progress: Invalid input: expected number, received string',
    ]);
    expect(eventViolation('job.exploded', {})).toBe('event job.exploded is not in the contract');
  });

  it('turns a response the contract does not allow into an internal error naming the method', async () => {
    const violations: string[] = [];
    const { client } = fakeBridge(() => ({ ok: true, value: { role: 'root' } }));
    const r = await withContractChecks(client, { onViolation: (m) => violations.push(m) }).call('session.get', {});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.kind).toBe('internal');
    expect(!r.ok && r.error.message).toMatch(/^the response of session\.get does not match the contract: role: /);
    expect(violations).toHaveLength(1);
  });

  it('parses error kinds instead of trusting them, and refuses a reply that is not a result', () => {
    const quiet = () => undefined;
    expect(
      checkResult('session.get', { ok: false, error: { kind: 'not-found', message: 'gone' } }, true, quiet),
    ).toEqual({
      ok: false,
      error: { kind: 'not-found', message: 'gone' },
    });
    expect(checkResult('session.get', { ok: false, error: { kind: 'EPERM', message: 'no' } }, true, quiet)).toEqual({
      ok: false,
      error: { kind: 'internal', message: 'no' },
    });
    expect(checkResult('session.get', { ok: false }, true, quiet)).toEqual({
      ok: false,
      error: { kind: 'internal', message: 'session.get failed' },
    });
    expect(checkResult('session.get', '<html>', true, quiet)).toEqual({
      ok: false,
      error: { kind: 'internal', message: 'the reply to session.get is not a result' },
    });
  });

  it('checks the Electron transport the same way (any SpactApi), passing well-formed messages through', async () => {
    const listeners: ((p: unknown) => void)[] = [];
    const electron: SpactApi = {
      call: async () => ({ ok: true, value: session }) as Result<never>,
      on: (_e, l) => {
        listeners.push(l as (p: unknown) => void);
        return () => undefined;
      },
      mediaUrl: (kind, id) => `spact-media://${kind}/${id}`,
      importFiles: async () => ({ ok: true, value: { imported: [], failed: [] } }),
      pickFolder: async () => '/media/usb',
    };
    const violations: string[] = [];
    const api = withContractChecks(electron, { onViolation: (m) => violations.push(m) });
    expect(await api.call('session.get', {})).toEqual({ ok: true, value: session });
    expect(api.mediaUrl('thumb', 4)).toBe('spact-media://thumb/4');
    expect(await api.pickFolder!('Export to')).toBe('/media/usb');
    const got: unknown[] = [];
    api.on('session.changed', (p) => got.push(p));
    listeners[0]!({ ...session, role: 'root' });
    listeners[0]!(session);
    expect(got).toEqual([session]);
    expect(violations).toEqual([expect.stringMatching(/^event session\.changed does not match the contract: role: /)]);
  });
});
