// The core in its own process (issue 13, item 4): the shell reaches it only through messages, its
// errors cross as data with a kind, a host that dies is restarted and calls in flight fail cleanly
// instead of hanging. Needs the compiled host (dist/node), which `npm test` builds first.
import fs from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { CoreClient, forkHostLauncher, hostEntry } from '../../electron/core/host/core-client.js';
import type { HostLauncher } from '../../electron/core/host/core-host-protocol.js';
import { tmpDir } from '../helpers/toy-clips.js';

const clients: CoreClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function start(options: Parameters<typeof CoreClient.start>[1], launcher: HostLauncher = forkHostLauncher()) {
  const restarts: string[] = [];
  const client = await CoreClient.start(launcher, options, (r) => restarts.push(r));
  clients.push(client);
  return { client, restarts };
}

const waitFor = async (cond: () => boolean, ms = 20_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('core host process', () => {
  it('is built where the shells look for it', () => {
    expect(fs.existsSync(hostEntry())).toBe(true);
  });

  it('answers contract calls from another process, with validation and events', async () => {
    const dataDir = tmpDir('spact-host-');
    const { client } = await start({ dataDir, role: 'admin' });
    expect(client.dataDir).toBe(dataDir);
    expect(client.hostPid).not.toBe(process.pid);
    const info = await client.dispatch('app.info', {}, { transport: 'bridge' });
    expect(info.ok).toBe(true);
    expect((info as { value: { transport: string } }).value.transport).toBe('bridge');
    const invalid = await client.dispatch('rooms.create', { name: '' }, { transport: 'bridge' });
    expect(invalid.ok).toBe(false);
    expect((invalid as { error: { kind: string } }).error.kind).toBe('validation');

    const events: string[] = [];
    client.events.subscribe((e) => events.push(e));
    await client.dispatch('session.switch', { role: 'viewer' }, { transport: 'bridge' });
    await waitFor(() => events.includes('session.changed'));
  });

  it('carries role checks and error kinds across: a viewer gets forbidden for raw media and uploads', async () => {
    const { client } = await start({ dataDir: tmpDir('spact-host-'), role: 'viewer' });
    await expect(client.resolveMedia('clip', 1)).rejects.toMatchObject({ kind: 'forbidden' });
    expect(await client.uploadAllowed()).toBe(false);
    const { client: operator } = await start({ dataDir: tmpDir('spact-host-'), role: 'operator' });
    expect(await operator.uploadAllowed()).toBe(true);
    await expect(operator.resolveMedia('output', 99)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it("fails start-up with the core's own error when the data folder cannot be used", async () => {
    await expect(CoreClient.start(forkHostLauncher(), { dataDir: '/proc/spact-nope' })).rejects.toMatchObject({
      kind: expect.stringMatching(/bad-input|unavailable|validation/),
    });
  });

  it('restarts a host that was killed; calls in flight fail as unavailable instead of hanging', async () => {
    const dataDir = tmpDir('spact-host-');
    const { client, restarts } = await start({ dataDir, role: 'admin' });
    await client.dispatch('rooms.create', { name: 'Kitchen' }, { transport: 'bridge' });
    const firstPid = client.hostPid!;
    // A call that is in flight when the host dies: the kill lands before the host can answer.
    const inFlight = client.dispatch('rooms.list', {}, { transport: 'bridge' });
    process.kill(firstPid, 'SIGKILL');
    const r = await inFlight;
    if (!r.ok) expect(r.error.kind).toBe('unavailable');
    await waitFor(() => restarts.length === 1 && client.hostPid !== firstPid);
    const rooms = await client.dispatch('rooms.list', {}, { transport: 'bridge' });
    expect(rooms).toMatchObject({ ok: true, value: [{ name: 'Kitchen' }] });
  });

  it('closes the host: it exits and later calls are refused', async () => {
    const { client } = await start({ dataDir: tmpDir('spact-host-'), role: 'admin' });
    const pid = client.hostPid!;
    await client.close();
    expect(() => process.kill(pid, 0)).toThrow();
    const after = await client.dispatch('app.info', {}, { transport: 'bridge' });
    expect(after).toMatchObject({ ok: false, error: { kind: 'unavailable' } });
  });
});

describe('core host watchdog', () => {
  it('kills and restarts a host that stopped answering (a frozen thread), failing the calls it held', async () => {
    const dataDir = tmpDir('spact-host-');
    const restarts: string[] = [];
    const client = await CoreClient.start(
      forkHostLauncher(),
      { dataDir, role: 'admin' },
      (r) => restarts.push(r),
      3000,
    );
    clients.push(client);
    const frozenPid = client.hostPid!;
    process.kill(frozenPid, 'SIGSTOP'); // frozen: alive, but its thread never turns
    const held = await client.dispatch('app.info', {}, { transport: 'bridge' });
    expect(held).toMatchObject({ ok: false, error: { kind: 'unavailable' } });
    await waitFor(() => client.hostPid !== frozenPid && client.hostPid !== null);
    expect(restarts[0]).toMatch(/stopped answering/);
    expect(await client.dispatch('app.info', {}, { transport: 'bridge' })).toMatchObject({ ok: true });
  });
});
