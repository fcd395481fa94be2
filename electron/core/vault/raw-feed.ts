// How ffmpeg reads sealed raw footage without a decrypted copy on disk: a loopback HTTP server of
// this process serves each opened file's plaintext under a random 256-bit path, with Range support
// (ffmpeg seeks in MP4s whose index sits at the end, which a plain pipe cannot do). The path is
// valid only while the reader holds it. The same Range logic serves admins' raw playback.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, Readable } from 'node:stream';

import { isSealedFile, SealedReader } from './sealed-file.js';
import { vaultById } from './vault.js';

/** A byte range of a plaintext of `size` bytes from an HTTP Range header; null: the whole file;
 *  'unsatisfiable': answer 416. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m || (!m[1] && !m[2])) return null;
  const start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
  const end = m[1] && m[2] ? Math.min(size - 1, Number(m[2])) : size - 1;
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/** Status, headers and body of a (possibly ranged) read of a sealed file. */
export function sealedRangeResponse(
  file: string,
  rangeHeader: string | undefined,
  contentType: string,
): { status: number; headers: Record<string, string>; body: Readable | null } {
  const reader = new SealedReader(file, vaultById);
  const size = reader.plainSize;
  const base = { 'Content-Type': contentType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
  const range = parseRange(rangeHeader, size);
  if (range === 'unsatisfiable') return { status: 416, headers: { 'Content-Range': `bytes */${size}` }, body: null };
  if (range === null)
    return { status: 200, headers: { ...base, 'Content-Length': String(size) }, body: Readable.from(reader.range()) };
  return {
    status: 206,
    headers: {
      ...base,
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': String(range.end - range.start + 1),
    },
    body: Readable.from(reader.range(range.start, range.end)),
  };
}

class RawFeed {
  private server: http.Server | null = null;
  private port: Promise<number> | null = null;
  private readonly files = new Map<string, string>();

  private start(): Promise<number> {
    this.port ??= new Promise((resolve, reject) => {
      const server = http.createServer((req, res) => {
        const file = this.files.get((req.url ?? '').slice(1));
        if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
          res.writeHead(404).end();
          return;
        }
        try {
          const r = sealedRangeResponse(file, req.headers.range, 'application/octet-stream');
          res.writeHead(r.status, r.headers);
          if (!r.body || req.method === 'HEAD') res.end();
          // pipeline: a reader that goes away mid-range (ffmpeg seeking, a closed player) ends the
          // decrypting stream too, and its file handle is closed.
          else pipeline(r.body, res, () => undefined);
        } catch {
          res.writeHead(500).end();
        }
      });
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.unref(); // never keeps a finished CLI command alive
        resolve((server.address() as AddressInfo).port);
      });
      this.server = server;
    });
    return this.port;
  }

  async open(file: string): Promise<{ input: string; release(): void }> {
    const port = await this.start();
    const token = randomBytes(32).toString('hex');
    this.files.set(token, file);
    return { input: `http://127.0.0.1:${port}/${token}`, release: () => this.files.delete(token) };
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }
}

const feed = new RawFeed();

/**
 * What to give ffmpeg/ffprobe as input for a file: the path itself for plain files (anonymized
 * outputs, linked clips, live sources), a loopback URL for sealed raw footage. Call release()
 * when the process that reads it has ended.
 */
export async function mediaInput(file: string): Promise<{ input: string; release(): void }> {
  if (!isSealedFile(file)) return { input: file, release: () => undefined };
  return feed.open(file);
}
