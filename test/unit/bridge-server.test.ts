import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { ApiDispatcher } from '../../electron/core/api-dispatcher.js';
import { BridgeServer } from '../../electron/core/bridge/bridge-server.js';
import { EventHub } from '../../electron/core/event-hub.js';
import { reachability } from '../helpers/bound-address.js';

const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-static-'));
fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');

const events = new EventHub();
const dispatcher = new ApiDispatcher({
  'app.info': (_r, ctx) => ({
    name: 'spact-desktop',
    version: '0',
    transport: ctx.transport,
    node: process.version,
    platform: 'test',
    engine: { available: false, reason: 'test' },
  }),
});
const bridge = new BridgeServer({ dispatcher, events, staticDir, maxBodyBytes: 1024 });

beforeAll(() => bridge.start());
afterAll(() => bridge.stop());

const api = (method: string, init: RequestInit = {}) =>
  fetch(`${bridge.origin}/api/${method}`, { method: 'POST', ...init });
const auth = { Authorization: `Bearer ${bridge.token}` };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
const body = async (res: Response): Promise<any> => res.json();

function wsUpgrade(headers: Record<string, string>): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/events`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

describe('loopback bridge', () => {
  it('listens on 127.0.0.1 only (the bound address, observed from outside)', async () => {
    const seen = await reachability(bridge.port);
    expect(seen.loopback).toBe('connected');
    if (seen.listening !== null) expect(seen.listening).toEqual(['127.0.0.1']);
    for (const [address, outcome] of Object.entries(seen.others)) expect(outcome, address).not.toBe('connected');
    expect(seen.listening !== null || Object.keys(seen.others).length > 0, 'nothing to observe').toBe(true);

    // The same probe does see a server bound to every address (so the checks above can fail).
    const wide = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => wide.listen(0, '0.0.0.0', resolve));
    try {
      const widePort = (wide.address() as AddressInfo).port;
      const open = await reachability(widePort);
      if (open.listening !== null) expect(open.listening).toEqual(['0.0.0.0']);
      for (const [address, outcome] of Object.entries(open.others)) {
        if (address.includes('.')) expect(outcome, address).toBe('connected');
      }
    } finally {
      await new Promise((resolve) => wide.close(resolve));
    }
    expect(bridge.origin).toBe(`http://127.0.0.1:${bridge.port}`);
  });

  it('refuses API calls without the token (401) and accepts the bearer token', async () => {
    const denied = await api('app.info', { body: '{}' });
    expect(denied.status).toBe(401);
    expect((await body(denied)).error.kind).toBe('unauthorized');
    const wrong = await api('app.info', { body: '{}', headers: { Authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const ok = await api('app.info', { body: '{}', headers: auth });
    expect(ok.status).toBe(200);
    expect((await body(ok)).value.transport).toBe('bridge');
  });

  it('rejects malformed payloads with a validation error', async () => {
    const bad = await api('app.info', { body: '{"x":1}', headers: auth });
    expect(bad.status).toBe(400);
    expect((await body(bad)).error.kind).toBe('validation');
    const notJson = await api('app.info', { body: '{nope', headers: auth });
    expect(notJson.status).toBe(400);
    const tooBig = await api('app.info', { body: JSON.stringify({ x: 'a'.repeat(5000) }), headers: auth });
    expect(tooBig.status).toBe(413);
    const unknown = await api('nope', { body: '{}', headers: auth });
    expect(unknown.status).toBe(404);
  });

  it('refuses cross-origin browser requests even with the token', async () => {
    const res = await api('app.info', { body: '{}', headers: { ...auth, Origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
  });

  it('hands the token out once through the launch link, as an HttpOnly SameSite cookie', async () => {
    const url = bridge.launchUrl;
    expect(url).toContain('/launch?code=');
    const first = await fetch(url!, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const second = await fetch(url!, { redirect: 'manual' });
    expect(second.status).toBe(401);
    expect(bridge.launchUrl).toBeNull();
    const withCookie = await api('app.info', { body: '{}', headers: { Cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
  });

  it('requires the token for the WebSocket upgrade and delivers events', async () => {
    expect(await wsUpgrade({})).toBe(401);
    expect(await wsUpgrade({ Origin: 'http://evil.example', ...auth })).toBe(403);
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/events`, { headers: auth });
    await new Promise((r) => ws.on('open', r));
    const got = new Promise<unknown>((r) => ws.on('message', (m) => r(JSON.parse(String(m)))));
    events.emit('app.heartbeat', { at: 42 });
    expect(await got).toEqual({ event: 'app.heartbeat', payload: { at: 42 } });
    ws.close();
  });

  it('serves the renderer with a CSP and refuses other Host headers (DNS rebinding)', async () => {
    const page = await fetch(`${bridge.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const traversal = await fetch(`${bridge.origin}/..%2f..%2fetc%2fpasswd`);
    expect([403, 404]).toContain(traversal.status);
    const rebound = await new Promise<number>((resolve) => {
      import('node:http').then(({ request }) => {
        const req = request(
          { host: '127.0.0.1', port: bridge.port, path: '/', headers: { Host: 'evil.example' } },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.end();
      });
    });
    expect(rebound).toBe(421);
  });
});
