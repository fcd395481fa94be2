// Browser mode: the same core API as Electron IPC, over HTTP (`POST /api/<method>`) and a
// WebSocket (`/events`), bound to 127.0.0.1 only. A random per-start token guards every API
// request and WebSocket upgrade; the page receives it through a one-time launch link that sets
// an HttpOnly, SameSite=Strict cookie, so the token never appears in a guessable route.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';

import { WebSocketServer, type WebSocket } from 'ws';

import type { ApiError, Result } from '../../contract.js';
import type { ApiDispatcher } from '../api-dispatcher.js';
import { toApiError } from '../errors.js';
import { encodeEvent } from './binary-event.js';
import type { EventHub } from '../event-hub.js';
import { parseRange, sealedRangeResponse } from '../vault/raw-feed.js';
import { isSealedFile, SealedWriter, type SealingKey } from '../vault/sealed-file.js';

export interface BridgeOptions {
  dispatcher: Pick<ApiDispatcher, 'dispatch'>;
  events: EventHub;
  /** Folder with the built renderer (index.html + assets). */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Largest accepted request body. */
  maxBodyBytes?: number;
  /** Media files behind /media/<kind>/<id> (role checks happen there). */
  media?: (kind: 'output' | 'clip' | 'thumb', id: number) => Promise<{ file: string; contentType: string }>;
  /** Uploads (browser-mode import): POST /upload?name=…&roomId=…&cameraId=… with the file as the body
   *  (a recording of a registered camera gets that camera's privacy masks). */
  upload?: {
    dir: string;
    maxBytes: number;
    /** Seal the body as it arrives (raw footage at rest is encrypted). */
    seal?: SealingKey;
    handle: (tmpFile: string, name: string, roomId: number | null, cameraId: number | null) => Promise<unknown>;
    /** Asked before a byte of the body is read (the role check): false answers 403 and closes the
     *  connection, so a refused client cannot push gigabytes onto the disk first. */
    authorize?: () => Promise<boolean> | boolean;
  };
}

const COOKIE = 'spact_token';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
  '.mp4': 'video/mp4',
};

const STATUS_OF_KIND: Record<ApiError['kind'], number> = {
  validation: 400,
  'bad-input': 400,
  'unknown-method': 404,
  'not-found': 404,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  unavailable: 503,
  cancelled: 409,
  internal: 500,
};

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Asynchronously: the server's thread serves the window and never waits on the disk. */
async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(file)).isFile();
  } catch {
    return false;
  }
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

export class BridgeServer {
  readonly token = randomToken();
  private launchCode: string | null = randomToken();
  private server: http.Server | null = null;
  private wss: WebSocketServer | null = null;
  private unsubscribe: (() => void) | null = null;
  private portValue = 0;

  constructor(private readonly opts: BridgeOptions) {}

  get port(): number {
    return this.portValue;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.portValue}`;
  }

  /** The one-time link that hands the token to a browser. Null once it has been used. */
  get launchUrl(): string | null {
    return this.launchCode ? `${this.origin}/launch?code=${this.launchCode}` : null;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendJson(res, 500, this.fail('internal', String(err)));
        else res.end();
      });
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    server.on('upgrade', (req, socket, head) => {
      // The same answers as HTTP: 421 for another Host, 403 for another Origin, 401 without the token.
      const refusal = !this.hostAllowed(req)
        ? '421 Misdirected Request'
        : !this.originAllowed(req)
          ? '403 Forbidden'
          : !this.authorized(req)
            ? '401 Unauthorized'
            : req.url !== '/events'
              ? '404 Not Found'
              : null;
      if (refusal) {
        socket.write(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    wss.on('connection', (ws: WebSocket) => {
      // Events flow one way; anything the client sends is ignored.
      ws.on('message', () => undefined);
    });
    this.unsubscribe = this.opts.events.subscribe((event, payload) => {
      // Frames as bytes, not base64 (binary-event.ts); every other event as JSON text.
      const msg = encodeEvent(event, payload);
      for (const client of wss.clients) if (client.readyState === client.OPEN) client.send(msg);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.portValue = (server.address() as AddressInfo).port;
    this.server = server;
    this.wss = wss;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const client of this.wss?.clients ?? []) client.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.server = null;
  }

  /** DNS-rebinding guard: only requests addressed to the loopback host of this port are served. */
  private hostAllowed(req: http.IncomingMessage): boolean {
    const host = req.headers.host ?? '';
    return host === `127.0.0.1:${this.portValue}` || host === `localhost:${this.portValue}`;
  }

  /** Cross-site guard: a browser request from another origin is refused even with a cookie. */
  private originAllowed(req: http.IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // non-browser clients (CLI, tests) send no Origin
    return origin === `http://127.0.0.1:${this.portValue}` || origin === `http://localhost:${this.portValue}`;
  }

  private authorized(req: http.IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && safeEqual(auth.slice(7), this.token)) return true;
    const cookie = parseCookies(req.headers.cookie).get(COOKIE);
    return cookie !== undefined && safeEqual(cookie, this.token);
  }

  private fail(kind: ApiError['kind'], message: string): Result<never> {
    return { ok: false, error: { kind, message } };
  }

  private securityHeaders(res: http.ServerResponse): void {
    res.setHeader(
      'Content-Security-Policy',
      [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        `connect-src 'self' ws://127.0.0.1:${this.portValue} ws://localhost:${this.portValue}`,
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
      ].join('; '),
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private async readBody(req: http.IncomingMessage): Promise<string | null> {
    const limit = this.opts.maxBodyBytes ?? 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) return null;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.securityHeaders(res);
    if (!this.hostAllowed(req)) {
      this.sendJson(res, 421, this.fail('unauthorized', 'requests must address 127.0.0.1 or localhost'));
      return;
    }
    const url = new URL(req.url ?? '/', this.origin);

    if (url.pathname === '/launch') {
      const code = url.searchParams.get('code') ?? '';
      if (this.launchCode && safeEqual(code, this.launchCode)) {
        this.launchCode = null; // one-time: a copied or logged link is useless afterwards
        res.writeHead(303, {
          Location: '/',
          'Set-Cookie': `${COOKIE}=${this.token}; HttpOnly; SameSite=Strict; Path=/`,
          'Cache-Control': 'no-store',
        });
        res.end();
      } else {
        res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('This launch link is invalid or was already used. Restart `spact serve` for a new one.\n');
      }
      return;
    }

    if (url.pathname.startsWith('/api/')) {
      if (!this.originAllowed(req)) {
        this.sendJson(res, 403, this.fail('unauthorized', 'cross-origin requests are refused'));
        return;
      }
      if (!this.authorized(req)) {
        this.sendJson(res, 401, this.fail('unauthorized', 'missing or invalid token'));
        return;
      }
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        this.sendJson(res, 405, this.fail('validation', 'use POST with a JSON body'));
        return;
      }
      const body = await this.readBody(req);
      if (body === null) {
        this.sendJson(res, 413, this.fail('validation', 'request body too large'));
        return;
      }
      let payload: unknown;
      try {
        payload = body.length === 0 ? {} : JSON.parse(body);
      } catch {
        this.sendJson(res, 400, this.fail('validation', 'request body is not valid JSON'));
        return;
      }
      let method: string;
      try {
        method = decodeURIComponent(url.pathname.slice('/api/'.length));
      } catch {
        // Malformed percent-encoding names no method (not an internal error).
        this.sendJson(res, 404, this.fail('unknown-method', 'no such method'));
        return;
      }
      const result = await this.opts.dispatcher.dispatch(method, payload, { transport: 'bridge' });
      this.sendJson(res, result.ok ? 200 : STATUS_OF_KIND[result.error.kind], result);
      return;
    }

    if (url.pathname.startsWith('/media/') || url.pathname === '/upload') {
      if (!this.originAllowed(req)) {
        this.sendJson(res, 403, this.fail('unauthorized', 'cross-origin requests are refused'));
        return;
      }
      if (!this.authorized(req)) {
        this.sendJson(res, 401, this.fail('unauthorized', 'missing or invalid token'));
        return;
      }
      if (url.pathname === '/upload') await this.handleUpload(req, res, url);
      else await this.handleMedia(req, res, url);
      return;
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      res.end();
      return;
    }
    await this.serveStatic(url.pathname, res);
  }

  private async handleMedia(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const m = /^\/media\/(output|clip|thumb)\/(\d+)$/.exec(url.pathname);
    if (!m || !this.opts.media) {
      this.sendJson(res, 404, this.fail('not-found', 'no such media'));
      return;
    }
    let target: { file: string; contentType: string };
    try {
      target = await this.opts.media(m[1] as 'output' | 'clip' | 'thumb', Number(m[2]));
    } catch (err) {
      const e = toApiError(err);
      this.sendJson(res, STATUS_OF_KIND[e.kind], { ok: false, error: e });
      return;
    }
    if (isSealedFile(target.file)) {
      // Raw footage sealed at rest: decrypted chunk by chunk for the requested range only.
      try {
        const r = sealedRangeResponse(target.file, req.headers.range, target.contentType);
        res.writeHead(r.status, r.headers);
        if (!r.body || req.method === 'HEAD') res.end();
        // pipeline: a reader that goes away mid-range (ffmpeg seeking, a closed player) ends the
        // decrypting stream too, and its file handle is closed.
        else pipeline(r.body, res, () => undefined);
      } catch (err) {
        const e = toApiError(err);
        this.sendJson(res, STATUS_OF_KIND[e.kind], { ok: false, error: e });
      }
      return;
    }
    let size: number;
    try {
      size = (await fs.promises.stat(target.file)).size;
    } catch {
      this.sendJson(res, 404, this.fail('not-found', 'the media file is missing'));
      return;
    }
    const headers = { 'Content-Type': target.contentType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      res.end();
      return;
    }
    if (range) {
      const { start, end } = range;
      res.writeHead(206, {
        ...headers,
        'Content-Range': `bytes ${start}-${end}/${size}`,
        'Content-Length': end - start + 1,
      });
      if (req.method === 'HEAD') res.end();
      else fs.createReadStream(target.file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': size });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(target.file).pipe(res);
  }

  private async handleUpload(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const up = this.opts.upload;
    if (!up || req.method !== 'POST') {
      this.sendJson(res, up ? 405 : 404, this.fail('validation', 'POST a file to /upload'));
      return;
    }
    if (up.authorize && !(await up.authorize())) {
      // The body is left unread: with Connection: close the socket ends after the answer instead
      // of being drained for the next request.
      res.setHeader('Connection', 'close');
      this.sendJson(res, 403, this.fail('forbidden', 'importing clips needs the operator role'));
      return;
    }
    // A body declared larger than allowed is refused before a byte of it is written.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > up.maxBytes) {
      res.setHeader('Connection', 'close');
      this.sendJson(res, 413, this.fail('validation', `upload larger than ${up.maxBytes} bytes`));
      return;
    }
    const name = url.searchParams.get('name') ?? 'upload.mp4';
    const roomParam = url.searchParams.get('roomId');
    const roomId = roomParam && /^\d+$/.test(roomParam) ? Number(roomParam) : null;
    const cameraParam = url.searchParams.get('cameraId');
    const cameraId = cameraParam && /^\d+$/.test(cameraParam) ? Number(cameraParam) : null;
    await fs.promises.mkdir(up.dir, { recursive: true });
    const tmp = path.join(up.dir, `upload-${randomBytes(8).toString('hex')}.part`);
    let size = 0;
    try {
      if (up.seal) {
        // Raw footage is sealed as it arrives: no unencrypted byte of it reaches the disk.
        const writer = new SealedWriter(tmp, up.seal);
        try {
          for await (const chunk of req as AsyncIterable<Buffer>) {
            size += chunk.length;
            if (size > up.maxBytes) {
              req.destroy();
              throw new Error('too-large');
            }
            writer.write(chunk);
          }
          writer.finish();
        } catch (err) {
          writer.abort();
          throw err;
        }
      } else
        await new Promise<void>((resolve, reject) => {
          const out = fs.createWriteStream(tmp);
          req.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > up.maxBytes) {
              req.destroy();
              out.destroy();
              reject(new Error('too-large'));
            }
          });
          req.pipe(out);
          out.on('finish', resolve);
          out.on('error', reject);
          req.on('error', reject);
        });
      const value = await up.handle(tmp, name, roomId, cameraId);
      this.sendJson(res, 200, { ok: true, value });
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      if ((err as Error).message === 'too-large') {
        this.sendJson(res, 413, this.fail('validation', `upload larger than ${up.maxBytes} bytes`));
        return;
      }
      const e = toApiError(err);
      this.sendJson(res, STATUS_OF_KIND[e.kind], { ok: false, error: e });
    }
  }

  private async serveStatic(pathname: string, res: http.ServerResponse): Promise<void> {
    const root = path.resolve(this.opts.staticDir);
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403);
      res.end();
      return;
    }
    let target = file;
    if (!(await isFile(target))) {
      // Single-page app: unknown non-asset routes get index.html.
      if (path.extname(rel) !== '') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('not found\n');
        return;
      }
      target = path.join(root, 'index.html');
    }
    if (!(await isFile(target))) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('The renderer is not built. Run `npm run build`.\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': MIME[path.extname(target)] ?? 'application/octet-stream',
      'Cache-Control': target.endsWith('index.html') ? 'no-store' : 'max-age=3600',
    });
    fs.createReadStream(target).pipe(res);
  }
}
