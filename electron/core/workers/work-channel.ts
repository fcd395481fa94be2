// The data channel between the app and its workers, so they need no shared disk: an HTTP server
// of the app (loopback by default; HTTPS with a certificate on a clinic network) that answers only
// requests bearing a worker token (`Authorization: Bearer`, compared in constant time against the
// hashes in <data>/workers/tokens.json: the tokens themselves are never stored). Per job, the app
// creates a grant (a random 256-bit name, valid while the job runs) for:
//   GET /v1/input/<grant>[/<n>]  a clip's plaintext (the grant's n-th input, default the first: a
//                                fine-tune has its room's clips) with Range support (sealed footage
//                                decrypted as it streams, like vault/raw-feed.ts: never a decrypted
//                                copy on any disk)
//   PUT /v1/output/<grant>       the job's output (an anonymized clip, a fine-tune's checkpoint),
//                                hashed as it arrives and refused (422) unless its sha256 is the one
//                                announced in X-Content-SHA256
// and, for any worker token, GET /v1/models/<sha256>: a registered model's checkpoint by its hash.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import { silentOpsLog, type OpsLogger } from '../ops-log.js';
import { isSealedFile } from '../vault/sealed-file.js';
import { parseRange, sealedRangeResponse } from '../vault/raw-feed.js';

/** Uploads larger than this are refused (an anonymized clip is far smaller). */
const MAX_UPLOAD_BYTES = 16 * 2 ** 30;

interface StoredToken {
  name: string;
  sha256: string;
  createdAt: string;
}

interface Upload {
  file: string;
  sha256: string;
  bytes: number;
}

interface Grant {
  inputs: string[];
  /** Verified uploads by sha256: a stale attempt's upload (a worker that lost the job) never replaces the one a result names. */
  uploads: Map<string, Upload>;
}

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** The worker tokens of a data folder (hashes only), written whole (temp file + rename). */
export class WorkerTokens {
  constructor(private readonly dataDir: string) {}

  private get file(): string {
    return path.join(this.dataDir, 'workers', 'tokens.json');
  }

  list(): StoredToken[] {
    try {
      return (JSON.parse(fs.readFileSync(this.file, 'utf8')) as { tokens: StoredToken[] }).tokens;
    } catch {
      return [];
    }
  }

  /** A new token for a worker (shown once); an earlier token of the same name is replaced. */
  issue(name: string): string {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
      throw new SpactError('validation', `a worker name is 1–64 letters, digits, '.', '_' or '-', got "${name}"`);
    const token = `spw_${randomBytes(32).toString('base64url')}`;
    this.write([
      ...this.list().filter((t) => t.name !== name),
      { name, sha256: sha256Hex(token), createdAt: nowIso() },
    ]);
    return token;
  }

  /**
   * Revokes a worker's token: the channel refuses it from the next request on (a worker that is
   * running a job gives it back to the queue and stops).
   */
  revoke(name: string): void {
    const tokens = this.list();
    if (!tokens.some((t) => t.name === name)) throw new SpactError('not-found', `no worker token named "${name}"`);
    this.write(tokens.filter((t) => t.name !== name));
  }

  /** The whole list, written whole (temp file + rename), readable by this user only. */
  private write(tokens: StoredToken[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ tokens }, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  /** The worker a token belongs to, or null: every stored hash is compared, in constant time. */
  check(token: string): string | null {
    const h = Buffer.from(sha256Hex(token), 'hex');
    let found: string | null = null;
    for (const t of this.list()) if (timingSafeEqual(h, Buffer.from(t.sha256, 'hex'))) found = t.name;
    return found;
  }
}

export interface WorkChannelOptions {
  db: Db;
  dataDir: string;
  /** Where uploads land before they are recorded (the outputs folder: renamed, never copied). */
  uploadDir: string;
  /** HOST:PORT to listen on; default 127.0.0.1 and a free port. */
  listen?: string;
  /** PEM files: serve HTTPS (required off loopback). */
  tls?: { cert: string; key: string };
  log?: OpsLogger;
}

export class WorkChannel {
  readonly tokens: WorkerTokens;
  private readonly grants = new Map<string, Grant>();
  private server: http.Server | null = null;
  private started: Promise<string> | null = null;
  private readonly log: OpsLogger;

  constructor(private readonly opts: WorkChannelOptions) {
    this.tokens = new WorkerTokens(opts.dataDir);
    this.log = opts.log ?? silentOpsLog;
  }

  /** Listens (once) and resolves to the channel's base URL (what `spact worker --app` takes). */
  start(): Promise<string> {
    this.started ??= new Promise((resolve, reject) => {
      const [host, port] = parseListen(this.opts.listen);
      if (!this.opts.tls && !isLoopback(host))
        throw new SpactError(
          'validation',
          `the worker channel serves ${host} only over TLS: give a certificate and key`,
        );
      const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
        this.handle(req, res).catch((err: unknown) => {
          this.log.log('error', 'workers.channel-error', { error: err });
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        });
      };
      const server = this.opts.tls
        ? https.createServer(
            { cert: fs.readFileSync(this.opts.tls.cert), key: fs.readFileSync(this.opts.tls.key) },
            handler,
          )
        : http.createServer(handler);
      // Inputs and outputs of whole clips stream through here: no overall request deadline (Node's
      // default of 300 s cut large uploads on slow links); headers still must arrive in time.
      server.requestTimeout = 0;
      server.on('error', reject);
      server.listen(port, host, () => {
        const a = server.address() as AddressInfo;
        const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve(`${this.opts.tls ? 'https' : 'http'}://${shown}:${a.port}`);
      });
      this.server = server;
    });
    return this.started;
  }

  /** A grant for one job's inputs (library clips' files, sealed or not), served by their index. */
  grant(inputs: string | string[]): string {
    const id = randomBytes(32).toString('hex');
    this.grants.set(id, { inputs: typeof inputs === 'string' ? [inputs] : [...inputs], uploads: new Map() });
    return id;
  }

  /** The verified upload of a grant with this sha256 (the caller moves the file), or null when none arrived. */
  takeUpload(id: string, sha256: string): Upload | null {
    const g = this.grants.get(id);
    const up = g?.uploads.get(sha256) ?? null;
    g?.uploads.delete(sha256);
    return up;
  }

  /** Ends a grant: its inputs are no longer served and uploads nobody took are removed. */
  revoke(id: string): void {
    const g = this.grants.get(id);
    this.grants.delete(id);
    for (const up of g?.uploads.values() ?? []) fs.rmSync(up.file, { force: true });
  }

  async stop(): Promise<void> {
    for (const id of [...this.grants.keys()]) this.revoke(id);
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const auth = req.headers.authorization;
    const worker = auth?.startsWith('Bearer ') ? this.tokens.check(auth.slice(7)) : null;
    if (!worker) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('missing or invalid worker token');
      return;
    }
    const [, v, what, id, index, ...rest] = (req.url ?? '').split('?')[0]!.split('/');
    if (v !== 'v1' || !id || rest.length > 0) {
      res.writeHead(404).end();
      return;
    }
    if (what === 'models' && (req.method === 'GET' || req.method === 'HEAD')) {
      const row = /^[0-9a-f]{64}$/.test(id)
        ? (this.opts.db.prepare(`SELECT checkpoint FROM models WHERE sha256 = ?`).get(id) as
            { checkpoint: string } | undefined)
        : undefined;
      if (!row || !fs.existsSync(row.checkpoint)) {
        res.writeHead(404).end();
        return;
      }
      const size = fs.statSync(row.checkpoint).size;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
      if (req.method === 'HEAD') res.end();
      else await pipeline(fs.createReadStream(row.checkpoint), res);
      return;
    }
    const grant = this.grants.get(id);
    if (!grant) {
      res.writeHead(404).end();
      return;
    }
    if (what === 'input' && (req.method === 'GET' || req.method === 'HEAD')) {
      const input = grant.inputs[index === undefined ? 0 : /^\d{1,6}$/.test(index) ? Number(index) : -1];
      if (input === undefined) {
        res.writeHead(404).end();
        return;
      }
      const r = isSealedFile(input)
        ? sealedRangeResponse(input, req.headers.range, 'application/octet-stream')
        : plainRangeResponse(input, req.headers.range);
      res.writeHead(r.status, r.headers);
      // A reader that goes away mid-range (ffmpeg seeking) ends the stream and its file handle.
      if (!r.body || req.method === 'HEAD') res.end();
      else await pipeline(r.body, res).catch(() => undefined);
      return;
    }
    if (what === 'output' && req.method === 'PUT' && index === undefined) {
      await this.receive(req, res, id, grant, worker);
      return;
    }
    res.writeHead(405).end();
  }

  private async receive(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    id: string,
    grant: Grant,
    worker: string,
  ): Promise<void> {
    const announced = String(req.headers['x-content-sha256'] ?? '');
    if (!/^[0-9a-f]{64}$/.test(announced)) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('X-Content-SHA256 (hex) is required');
      return;
    }
    // A hidden temporary name of this process: start-up removes it if the app dies meanwhile.
    // Unique per upload: a retry's upload never overwrites one the app is taking.
    const file = path.join(
      this.opts.uploadDir,
      `.upload-${id.slice(0, 16)}-${randomBytes(4).toString('hex')}.mp4.tmp-${process.pid}`,
    );
    fs.mkdirSync(this.opts.uploadDir, { recursive: true, mode: 0o700 });
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > MAX_UPLOAD_BYTES) throw new SpactError('bad-input', 'upload too large');
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(file, { mode: 0o600 }),
      );
    } catch (err) {
      fs.rmSync(file, { force: true });
      if (!res.headersSent) res.writeHead(400, { 'Content-Type': 'text/plain' }).end((err as Error).message);
      return;
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== announced || !this.grants.has(id)) {
      fs.rmSync(file, { force: true });
      this.log.log('warn', 'workers.upload-refused', {
        worker,
        bytes,
        reason: sha256 !== announced ? 'sha256' : 'grant ended',
      });
      res.writeHead(422, { 'Content-Type': 'text/plain' }).end(`sha256 mismatch: received ${sha256}`);
      return;
    }
    const same = grant.uploads.get(sha256);
    if (same) fs.rmSync(same.file, { force: true }); // the same bytes again (a retry): one copy kept
    grant.uploads.set(sha256, { file, sha256, bytes });
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ sha256, bytes }));
  }
}

function plainRangeResponse(
  file: string,
  rangeHeader: string | undefined,
): { status: number; headers: Record<string, string>; body: fs.ReadStream | null } {
  const size = fs.statSync(file).size;
  const base = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
  const range = parseRange(rangeHeader, size);
  if (range === 'unsatisfiable') return { status: 416, headers: { 'Content-Range': `bytes */${size}` }, body: null };
  if (range === null)
    return { status: 200, headers: { ...base, 'Content-Length': String(size) }, body: fs.createReadStream(file) };
  return {
    status: 206,
    headers: {
      ...base,
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': String(range.end - range.start + 1),
    },
    body: fs.createReadStream(file, { start: range.start, end: range.end }),
  };
}

function parseListen(listen: string | undefined): [string, number] {
  if (!listen) return ['127.0.0.1', 0];
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw new SpactError('validation', `listen address must be HOST:PORT, got "${listen}"`);
  return [m[1] ?? m[2]!, Number(m[3])];
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
