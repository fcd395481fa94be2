// Security probes against a real `spact serve` (browser mode), as an attacker at the console or on
// another site would try them: the token on every route, the one-time launch link, Host and Origin
// checks (HTTP and WebSocket), path traversal, body limits, the role matrix of every contract
// method, upload refused before its body is read, PIN lockout and the hash-chained audit log.
// One server for all of it; the probes that change the session (PINs, lockout) come last.
// The camera registry: live opens registered cameras only (no path or URL is accepted from anyone),
// cameras are changed by admins only, and a stream URL's credentials never come back.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { methods, type Role } from '../../electron/contract.js';
import { rendererDir } from '../../electron/core/paths.js';
import { reachability } from '../helpers/bound-address.js';
import { projectRoot, spactBin, spactSync } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: ChildProcess;
let dataDir = '';
let launchUrl = '';
let port = 0;
let origin = '';
let cookie = '';
let clipId = 0;
const ADMIN_PIN = '731904';
const CAMERA_PASSWORD = 'probe-Pw-4e71';

/** A raw HTTP request: the path goes on the wire as written (no URL normalisation). */
function raw(
  method: string,
  rawPath: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: a refused request leaves its body unread and the socket closed.
    const req = http.request(
      { host: '127.0.0.1', port, method, path: rawPath, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const withCookie = (headers: Record<string, string> = {}) => ({ cookie, ...headers });

/** POST /api/<method> with the session cookie. */
async function api(method: string, payload: unknown = {}, headers: Record<string, string> = {}) {
  const r = await raw('POST', `/api/${method}`, {
    headers: withCookie({ 'content-type': 'application/json', ...headers }),
    body: JSON.stringify(payload),
  });
  return { status: r.status, json: JSON.parse(r.body) as { ok: boolean; value?: unknown; error?: ApiErr } };
}
interface ApiErr {
  kind: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The WebSocket upgrade: 'open', or the HTTP status it was refused with. */
function wsUpgrade(headers: Record<string, string>, wsPath = '/events'): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

beforeAll(async () => {
  dataDir = tmpDir('spact-probes-');
  server = spawn(
    process.execPath,
    [spactBin, 'serve', '--no-open', '--json', '--data-dir', dataDir, '--role', 'admin'],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  launchUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      try {
        resolve((JSON.parse(out) as { url: string }).url); // pretty-printed, maybe in chunks
      } catch {
        /* not complete yet */
      }
    });
    server.once('exit', (code) => reject(new Error(`spact serve exited with ${code}: ${err}`)));
  });
  const u = new URL(launchUrl);
  port = Number(u.port);
  origin = u.origin;
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

async function stopServer(): Promise<void> {
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

describe('spact serve: the address', () => {
  it('listens on 127.0.0.1 only (the bound address of the server process, observed from outside)', async () => {
    const seen = await reachability(port);
    expect(seen.loopback).toBe('connected');
    if (seen.listening !== null) expect(seen.listening).toEqual(['127.0.0.1']);
    for (const [address, outcome] of Object.entries(seen.others)) expect(outcome, address).not.toBe('connected');
    expect(seen.listening !== null || Object.keys(seen.others).length > 0, 'nothing to observe').toBe(true);
  });
});

describe('spact serve: the token', () => {
  it('hands the token out once through the launch link, as an HttpOnly SameSite=Strict cookie', async () => {
    expect(origin).toBe(`http://127.0.0.1:${port}`);
    const code = new URL(launchUrl).searchParams.get('code')!;
    // A wrong code is refused and does not burn the right one.
    expect((await raw('GET', `/launch?code=${'x'.repeat(code.length)}`)).status).toBe(401);
    const first = await raw('GET', `/launch?code=${code}`);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const setCookie = String(first.headers['set-cookie']);
    expect(setCookie).toMatch(/^spact_token=[\w-]{40,};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    cookie = setCookie.split(';')[0]!;
    const again = await raw('GET', `/launch?code=${code}`);
    expect(again.status).toBe(401);
    expect(again.headers['set-cookie']).toBeUndefined();
    expect((await api('app.info')).status).toBe(200);
  });

  it('refuses /api, /media, /upload and the WebSocket without the token or with a wrong one (401)', async () => {
    const token = cookie.split('=')[1]!;
    const wrong: Record<string, string>[] = [
      {},
      { cookie: 'spact_token=' + 'A'.repeat(token.length) },
      { cookie: 'spact_token=' },
      { authorization: `Bearer ${token.slice(0, -1)}` },
      { authorization: `Bearer ${token}x` },
      { authorization: token },
      { cookie: `other=${token}` },
    ];
    for (const headers of wrong) {
      const a = await raw('POST', '/api/app.info', { headers, body: '{}' });
      expect(a.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.parse(a.body)).toMatchObject({ ok: false, error: { kind: 'unauthorized' } });
      expect((await raw('GET', '/media/clip/1', { headers })).status).toBe(401);
      expect((await raw('GET', '/media/thumb/1', { headers })).status).toBe(401);
      expect((await raw('POST', '/upload?name=x.mp4', { headers, body: 'x' })).status).toBe(401);
      expect(await wsUpgrade(headers)).toBe(401);
    }
    // The bearer token works too (CLI clients); the cookie opens the WebSocket.
    expect((await raw('POST', '/api/app.info', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await wsUpgrade({ cookie })).toBe('open');
    expect(fs.readdirSync(dataDir)).not.toContain('uploads');
  });
});

describe('spact serve: Host and Origin', () => {
  it('answers 421 to any Host but 127.0.0.1 or localhost of its port (DNS rebinding), on every route', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      '127.0.0.1',
      `127.0.0.1:${port + 1}`,
      `0.0.0.0:${port}`,
      `[::1]:${port}`,
      `127.0.0.1.evil.example:${port}`,
    ]) {
      for (const [method, p] of [
        ['GET', '/'],
        ['POST', '/api/app.info'],
        ['GET', '/media/thumb/1'],
        ['POST', '/upload'],
        ['GET', `/launch?code=x`],
      ] as const) {
        const r = await raw(method, p, { headers: withCookie({ host }), body: '{}' });
        expect(r.status, `${host} ${p}`).toBe(421);
      }
      expect(await wsUpgrade({ cookie, host }), host).toBe(421);
    }
    expect((await raw('POST', '/api/app.info', { headers: withCookie({ host: `localhost:${port}` }) })).status).toBe(
      200,
    );
  });

  it('refuses a cross-site Origin with 403 on the API and the WebSocket, even with the token', async () => {
    for (const o of ['http://evil.example', `http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, 'null']) {
      const r = await api('app.info', {}, { origin: o });
      expect(r.status, o).toBe(403);
      expect(r.json).toMatchObject({ ok: false, error: { kind: 'unauthorized' } });
      expect(await wsUpgrade({ cookie, origin: o }), o).toBe(403);
      expect((await raw('GET', '/media/thumb/1', { headers: withCookie({ origin: o }) })).status).toBe(403);
      expect((await raw('POST', '/upload?name=x.mp4', { headers: withCookie({ origin: o }), body: 'x' })).status).toBe(
        403,
      );
    }
    // Its own origin is welcome.
    expect((await api('app.info', {}, { origin })).status).toBe(200);
    expect(await wsUpgrade({ cookie, origin })).toBe('open');
    // Only /events upgrades.
    expect(await wsUpgrade({ cookie }, '/api/app.info')).toBe(404);
  });

  it('sends its security headers', async () => {
    const page = await raw('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('spact serve: path traversal', () => {
  const index = fs.readFileSync(path.join(rendererDir(), 'index.html'), 'utf8');
  const pkg = fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8');
  const outside = [
    '/../../package.json',
    '/../../../../../../etc/passwd',
    '/%2e%2e/%2e%2e/package.json',
    '/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
    '/..%2f..%2fpackage.json',
    '/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
    '/assets/..%2f..%2f..%2fpackage.json',
    '/%2e%2e%2f%2e%2e%2fpackage.json',
    '/..%5c..%5cpackage.json',
    '/%2fetc%2fpasswd',
    '//etc/passwd',
    '/etc/passwd',
    `/${encodeURIComponent(path.join(projectRoot, 'package.json'))}`,
    `/${encodeURIComponent('/etc/passwd')}`,
    '/index.html%00../../package.json',
    '/%252e%252e/%252e%252e/package.json',
  ];

  it('never serves a file outside the renderer folder', async () => {
    for (const p of outside) {
      const r = await raw('GET', p, { headers: withCookie() });
      expect([200, 403, 404], p).toContain(r.status);
      // The single-page app answers unknown routes with index.html; nothing else may come back.
      if (r.status === 200) expect(r.body, p).toBe(index);
      expect(r.body).not.toContain('root:');
      expect(r.body).not.toContain(pkg.slice(0, 40));
    }
  });

  it('media routes take only /media/<output|clip|thumb>/<number>', async () => {
    const probes = [
      '/media/clip/..%2f..%2f..%2fpackage.json',
      '/media/output/1/../../../package.json',
      '/media/thumb/1%2f..%2f..%2fpackage.json',
      '/media/%2e%2e/%2e%2e/package.json',
      `/media/clip/${encodeURIComponent('/etc/passwd')}`,
      '/media/clip/-1',
      '/media/clip/1.5',
      '/media/raw/1',
      '/media/clip/1%00',
    ];
    for (const p of probes) {
      const r = await raw('GET', p, { headers: withCookie() });
      expect([403, 404], `${p} → ${r.status}`).toContain(r.status);
      expect(r.body).not.toContain('root:');
      expect(r.body).not.toContain(pkg.slice(0, 40));
    }
  });
});

describe('spact serve: bodies and methods', () => {
  it('answers 413 to a body over the limit, 400 to invalid JSON, 404 to an unknown method, 405 to GET', async () => {
    const big = await raw('POST', '/api/app.info', {
      headers: withCookie({ 'content-type': 'application/json' }),
      body: `{"x":"${'a'.repeat(1024 * 1024 + 16)}"}`,
    });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toMatchObject({ ok: false, error: { kind: 'validation' } });
    for (const body of ['{', 'not json', '{"role":', '\u0000']) {
      const r = await raw('POST', '/api/session.get', { headers: withCookie(), body });
      expect(r.status, body).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { kind: 'validation' } });
    }
    for (const m of ['no.such', 'constructor', '__proto__', 'toString', 'session.switch%2F..', 'hasOwnProperty']) {
      const r = await api(m);
      expect(r.status, m).toBe(404);
      expect(r.json).toMatchObject({ ok: false, error: { kind: 'unknown-method' } });
    }
    // Malformed percent-encoding in the method name is no method, not an internal error.
    for (const p of ['/api/%E0%A4%A', '/api/%ZZ', '/api/app.info%']) {
      const r = await raw('POST', p, { headers: withCookie(), body: '{}' });
      expect([p, r.status]).toEqual([p, 404]);
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { kind: 'unknown-method' } });
    }
    // A payload that breaks the contract is refused before any handler runs.
    const bad = await api('session.switch', { role: 'root' });
    expect(bad.status).toBe(400);
    expect((await api('session.get', { extra: 1 })).status).toBe(400);
    expect((await raw('GET', '/api/app.info', { headers: withCookie() })).status).toBe(405);
    expect((await raw('DELETE', '/index.html', { headers: withCookie() })).status).toBe(405);
  });
});

type Min = Role | 'none';
/**
 * The least role of every contract method, as electron/core/services.ts enforces it. A method
 * missing here fails the test: a new method must state who may call it. `req` passes the
 * contract's validation, so a refusal is the role check and not the payload.
 */
const ROLE_MATRIX: Record<string, { min: Min; req: unknown; note?: string }> = {
  'app.info': { min: 'viewer', req: {} },
  'session.get': { min: 'viewer', req: {} },
  'session.switch': { min: 'viewer', req: { role: 'viewer' } },
  'session.setPin': { min: 'admin', req: { role: 'viewer', pin: '123456' } },
  'session.ackLockouts': { min: 'admin', req: {} },
  'rooms.list': { min: 'viewer', req: {} },
  'rooms.create': { min: 'operator', req: { name: 'probe' } },
  'rooms.setModel': { min: 'operator', req: { roomId: 1, modelId: null } },
  'rooms.setSize': { min: 'operator', req: { roomId: 1, workingSize: 'auto' } },
  'rooms.measure': { min: 'operator', req: { roomId: 1 } },
  'rooms.delete': { min: 'operator', req: { roomId: 1 } },
  'rooms.setRetention': { min: 'admin', req: { roomId: 1, days: 30 } },
  'rooms.rawData': { min: 'admin', req: { roomId: 1 } },
  'rooms.reanonymize': { min: 'admin', req: { roomId: 1 } },
  'clips.list': { min: 'viewer', req: {} },
  'clips.import': { min: 'operator', req: { paths: ['/etc/passwd'] } },
  'clips.delete': { min: 'operator', req: { id: 1 } },
  'clips.move': { min: 'admin', req: { clipIds: [1], roomId: null } },
  'clips.anonymize': { min: 'operator', req: { clipIds: [1] } },
  'clips.rawAccess': { min: 'admin', req: { clipId: 1 } },
  'clips.audit': { min: 'operator', req: { clipId: 1 } },
  'clips.auditReport': { min: 'viewer', req: { clipId: 1 } },
  'models.list': { min: 'viewer', req: {} },
  'jobs.list': { min: 'viewer', req: {} },
  'jobs.cancel': { min: 'operator', req: { id: 1 } },
  'workers.list': { min: 'admin', req: {} },
  'workers.drain': { min: 'admin', req: { id: 'nobody' } },
  'runs.list': { min: 'viewer', req: {} },
  'runs.get': { min: 'viewer', req: { runId: 1 } },
  'runs.start': { min: 'operator', req: { roomId: 1 } },
  'runs.cancel': { min: 'operator', req: { runId: 1 } },
  'runs.resume': { min: 'operator', req: { runId: 1 } },
  'runs.metrics': { min: 'viewer', req: { runId: 1 } },
  'runs.promote': { min: 'operator', req: { runId: 1, roomId: 1 } },
  'exports.start': { min: 'operator', req: { roomId: 1, to: '/tmp/spact-probe-export' } },
  'exports.list': { min: 'viewer', req: {} },
  'exports.plan': { min: 'operator', req: { roomId: 1 } },
  'exports.browse': { min: 'operator', req: {} },
  'settings.get': { min: 'viewer', req: {} },
  'settings.set': { min: 'admin', req: { keepAudio: true } },
  'audit.list': { min: 'admin', req: {} },
  'cameras.list': { min: 'viewer', req: {} },
  'cameras.create': { min: 'admin', req: { name: 'probe', kind: 'rtsp', source: 'rtsp://u:p@127.0.0.1:9/x' } },
  'cameras.update': { min: 'admin', req: { cameraId: 1, masks: [] } },
  'cameras.delete': { min: 'admin', req: { cameraId: 1 } },
  // Without a registered camera's id, capturing a frame is an operator's (ad-hoc capture).
  'live.anonymizeFrame': { min: 'operator', req: { width: 8, height: 8, rgb: '' } },
  // Registered cameras only: every role picks from the list (camera 999 does not exist: not found).
  'live.start': { min: 'viewer', req: { cameraId: 999 } },
  'live.stop': { min: 'viewer', req: { streamId: 999 } },
};
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

describe('spact serve: roles', () => {
  it('knows the least role of every contract method', () => {
    // Entries of methods no longer in the contract are ignored; a contract method without one fails.
    expect(Object.keys(methods).filter((m) => !Object.hasOwn(ROLE_MATRIX, m))).toEqual([]);
  });

  it('imports a clip through /upload as admin and plays it raw', async () => {
    const video = makeVideo(path.join(tmpDir('spact-probe-clip-'), 'ward.mp4'), { seconds: 1 });
    const up = await raw('POST', '/upload?name=../../ward.mp4', {
      headers: withCookie(),
      body: fs.readFileSync(video),
    });
    expect(up.status).toBe(200);
    const clip = (JSON.parse(up.body) as { value: { id: number; name: string } }).value;
    clipId = clip.id;
    // The name is the file's own, never a path out of the upload folder.
    expect(clip.name).not.toMatch(/[/\\]|\.\./);
    expect(clipId).toBeGreaterThan(0);
    const media = await raw('GET', `/media/clip/${clipId}`, { headers: withCookie({ range: 'bytes=0-9' }) });
    expect(media.status).toBe(206);
    expect(media.headers['content-type']).toBe('video/mp4');
  });

  it('registers a stream camera as admin: its password never comes back', async () => {
    const r = await api('cameras.create', {
      name: 'Ward',
      kind: 'rtsp',
      source: `rtsp://admin:${CAMERA_PASSWORD}@127.0.0.1:9/ward`,
    });
    expect(r.status).toBe(200);
    expect(r.json.value).toMatchObject({ source: 'rtsp://127.0.0.1:9/ward', hasCredentials: true });
    expect(JSON.stringify(r.json)).not.toContain(CAMERA_PASSWORD);
  });

  for (const role of ['viewer', 'operator'] as const) {
    it(`refuses every method above ${role} with 403 forbidden`, async () => {
      expect((await api('session.switch', { role })).json).toMatchObject({ ok: true, value: { role } });
      for (const method of Object.keys(methods)) {
        const { min, req } = ROLE_MATRIX[method]!;
        if (min === 'none' || method === 'session.switch') continue;
        const payload = JSON.parse(JSON.stringify(req).replaceAll('"clipId":1', `"clipId":${clipId}`)) as unknown;
        const r = await api(method, payload);
        if (RANK[min] > RANK[role]) {
          expect([method, r.status, r.json.error?.kind]).toEqual([method, 403, 'forbidden']);
          expect(r.json.error?.message).toContain(`current role: ${role}`);
        } else if (RANK[min] <= RANK.viewer) {
          // Allowed: whatever it answers, it is not a refusal for the role.
          expect([method, r.status]).not.toEqual([method, 403]);
        }
      }
      // The raw side-by-side of a live camera is admin only, checked before the camera is opened.
      const live = await api('live.start', { cameraId: 999, showRaw: true });
      expect([live.status, live.json.error?.kind]).toEqual([403, 'forbidden']);
      // Nobody passes a path or a URL to live.start any more: the contract has no place for one.
      for (const source of [
        { kind: 'file', path: '/etc/passwd' },
        { kind: 'stream', url: 'http://127.0.0.1:9/admin' },
      ]) {
        const r = await api('live.start', { source });
        expect([r.status, r.json.error?.kind]).toEqual([400, 'validation']);
      }
      // Cameras are listed for every role, without credentials.
      const listed = await api('cameras.list');
      expect(listed.status).toBe(200);
      expect(JSON.stringify(listed.json)).not.toContain(CAMERA_PASSWORD);
      // Raw media is admin only; anonymized outputs and thumbnails are not refused for the role.
      const rawClip = await raw('GET', `/media/clip/${clipId}`, { headers: withCookie() });
      expect(rawClip.status).toBe(403);
      expect(JSON.parse(rawClip.body)).toMatchObject({ ok: false, error: { kind: 'forbidden' } });
      for (const kind of ['thumb', 'output']) {
        const r = await raw('GET', `/media/${kind}/999`, { headers: withCookie() });
        expect([kind, r.status]).toEqual([kind, 404]);
        expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { kind: 'not-found' } });
      }
      // Going back up without a PIN set is allowed (first-run set-up).
      expect((await api('session.switch', { role: 'admin' })).status).toBe(200);
    });
  }

  it('refuses an upload by a viewer with 403 before the body is sent', async () => {
    expect((await api('session.switch', { role: 'viewer' })).status).toBe(200);
    const total = 256 * 2 ** 20;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const r = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/upload?name=big.mp4',
          headers: withCookie({ 'content-length': String(total) }),
        },
        (res) => {
          answered = true;
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
        },
      );
      req.on('error', (e) => (answered ? undefined : reject(e)));
      // Slowly: 64 KiB every 20 ms (the whole body would take over a minute).
      const tick = setInterval(() => {
        if (answered || sent >= total) return clearInterval(tick);
        req.write(chunk);
        sent += chunk.length;
      }, 20);
      setTimeout(() => {
        clearInterval(tick);
        if (!answered) reject(new Error('no answer while the body was still being sent'));
      }, 15_000).unref();
    });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { kind: 'forbidden' } });
    expect(r.sent).toBeLessThan(total / 4);
    const uploads = path.join(dataDir, 'uploads');
    const left = fs.existsSync(uploads) ? fs.readdirSync(uploads) : [];
    expect(left).toEqual([]);
    expect((await api('session.switch', { role: 'admin' })).status).toBe(200);
  });
});

describe('spact serve: PIN lockout', () => {
  it('refuses short PINs, then locks the admin PIN after 5 wrong tries: the 6th, right, is refused', async () => {
    const short = await api('session.setPin', { role: 'admin', pin: '4821' });
    expect([short.status, short.json.error?.kind]).toEqual([400, 'bad-input']);
    expect((await api('session.setPin', { role: 'admin', pin: ADMIN_PIN })).status).toBe(200);
    expect((await api('session.switch', { role: 'viewer' })).json).toMatchObject({
      ok: true,
      value: { role: 'viewer' },
    });
    const noPin = await api('session.switch', { role: 'admin' });
    expect([noPin.status, noPin.json.error?.details?.reason]).toEqual([401, 'no-pin']);
    for (let i = 1; i <= 5; i++) {
      const r = await api('session.switch', { role: 'admin', pin: String(100000 + i) });
      expect(r.status).toBe(401);
      expect(r.json.error).toMatchObject({ kind: 'unauthorized', details: { reason: 'wrong-pin', failures: i } });
      if (i === 5) expect(r.json.error?.details?.retryAfterS).toBe(60);
    }
    const sixth = await api('session.switch', { role: 'admin', pin: ADMIN_PIN });
    expect(sixth.status).toBe(403);
    expect(sixth.json.error).toMatchObject({ kind: 'forbidden', details: { reason: 'pin-locked' } });
    expect(sixth.json.error?.details?.retryAfterS).toBeGreaterThan(50);
    expect((await api('session.get')).json).toMatchObject({ value: { role: 'viewer' } });
    // Still a viewer: the admin's methods stay closed.
    expect((await api('audit.list')).status).toBe(403);
  });
});

describe('spact audit-log verify', () => {
  it('passes on the log the probes wrote, and names the entry edited in the database', async () => {
    await stopServer();
    const ok = spactSync(['audit-log', 'verify', '--data-dir', dataDir, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as { ok: boolean; entries: number; head: string };
    expect(report.ok).toBe(true);
    // The camera's password is sealed at rest: no file of the data folder holds it (the server
    // has stopped: its WAL is checkpointed into the database).
    for (const e of fs.readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()))
      expect([e.name, fs.readFileSync(path.join(e.parentPath, e.name)).includes(CAMERA_PASSWORD)]).toEqual([
        e.name,
        false,
      ]);
    const db = new Database(path.join(dataDir, 'library.sqlite'));
    try {
      const rows = db.prepare(`SELECT id, actor, action, object, hash, prev_hash FROM audit_log ORDER BY id`).all() as {
        id: number;
        actor: string;
        action: string;
        object: string | null;
        hash: string | null;
      }[];
      expect(report.entries).toBe(rows.length);
      const actions = new Set(rows.map((r) => r.action));
      for (const a of [
        'raw-view',
        'raw-view-denied',
        'upload-denied',
        'pin-set',
        'role-switch-denied',
        'pin-lockout',
        'camera-create',
      ]) {
        expect(actions, a).toContain(a);
      }
      expect(rows.every((r) => typeof r.hash === 'string' && r.hash.length > 0)).toBe(true);
      // An attacker hides the lockout: its entry now reads as a harmless role switch.
      const hidden = rows.find((r) => r.action === 'pin-lockout')!;
      db.prepare(`UPDATE audit_log SET action = 'role-switch' WHERE id = ?`).run(hidden.id);
      const edited = spactSync(['audit-log', 'verify', '--data-dir', dataDir, '--json']);
      expect(edited.code).toBe(1);
      expect(JSON.parse(edited.stdout)).toMatchObject({ ok: false, broken: { id: hidden.id } });
      // Put back, whole again; then the denied raw view is removed outright.
      db.prepare(`UPDATE audit_log SET action = 'pin-lockout' WHERE id = ?`).run(hidden.id);
      expect(spactSync(['audit-log', 'verify', '--data-dir', dataDir]).code).toBe(0);
      const denied = rows.find((r) => r.action === 'raw-view-denied')!;
      db.prepare(`DELETE FROM audit_log WHERE id = ?`).run(denied.id);
      const removed = spactSync(['audit-log', 'verify', '--data-dir', dataDir, '--json']);
      expect(removed.code).toBe(1);
      const next = rows.find((r) => r.id > denied.id)!;
      expect(JSON.parse(removed.stdout)).toMatchObject({ ok: false, broken: { id: next.id } });
    } finally {
      db.close();
    }
  });
});
