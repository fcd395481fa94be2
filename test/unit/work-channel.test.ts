// The workers' data channel (no Redis needed): a worker token on every request, grants per job,
// Range reads of the input, uploads refused unless their sha256 is the announced one.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { openDatabase } from '../../electron/core/db/database.js';
import { WorkChannel } from '../../electron/core/workers/work-channel.js';
import { SpactWorker } from '../../electron/core/workers/worker.js';
import { tmpDir } from '../helpers/toy-clips.js';

const dataDir = tmpDir('spact-channel-');
const db = openDatabase(path.join(dataDir, 'library.sqlite'));
const uploadDir = path.join(dataDir, 'outputs');
const channel = new WorkChannel({ db, dataDir, uploadDir });
afterAll(async () => {
  await channel.stop();
  db.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('worker data channel', () => {
  it('answers only worker tokens, serves a grant with Range, verifies uploads', async () => {
    const base = await channel.start();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const token = channel.tokens.issue('w1');
    // Only the hash is stored.
    expect(fs.readFileSync(path.join(dataDir, 'workers', 'tokens.json'), 'utf8')).not.toContain(token);
    const input = path.join(dataDir, 'input.bin');
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    fs.writeFileSync(input, bytes);
    const grant = channel.grant(input);
    const auth = { Authorization: `Bearer ${token}` };

    expect((await fetch(`${base}/v1/input/${grant}`)).status).toBe(401);
    expect((await fetch(`${base}/v1/input/${grant}`, { headers: { Authorization: `Bearer ${token}x` } })).status).toBe(
      401,
    );
    expect((await fetch(`${base}/v1/input/${'0'.repeat(64)}`, { headers: auth })).status).toBe(404);
    const whole = await fetch(`${base}/v1/input/${grant}`, { headers: auth });
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(`${base}/v1/input/${grant}`, { headers: { ...auth, Range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(10, 20));

    const output = Buffer.from('an anonymized clip');
    const put = (announced: string) =>
      fetch(`${base}/v1/output/${grant}`, {
        method: 'PUT',
        headers: { ...auth, 'X-Content-SHA256': announced },
        body: output,
      });
    expect((await put(sha(Buffer.from('something else')))).status).toBe(422);
    expect(fs.readdirSync(uploadDir)).toEqual([]); // a refused upload leaves nothing
    expect(channel.takeUpload(grant)).toBeNull();
    expect((await put(sha(output))).status).toBe(200);
    const up = channel.takeUpload(grant)!;
    expect(up.sha256).toBe(sha(output));
    expect(fs.readFileSync(up.file)).toEqual(output);

    // A revoked grant is no longer served; an upload nobody took is removed with it.
    expect((await put(sha(output))).status).toBe(200);
    const pending = fs.readdirSync(uploadDir).filter((f) => f !== path.basename(up.file));
    expect(pending).toHaveLength(1);
    channel.revoke(grant);
    expect(fs.existsSync(path.join(uploadDir, pending[0]!))).toBe(false);
    expect((await fetch(`${base}/v1/input/${grant}`, { headers: auth })).status).toBe(404);
  });

  it('a worker whose token the app does not accept refuses to start (it would fail every job it took)', async () => {
    const base = await channel.start();
    const tmp = tmpDir('spact-worker-token-');
    // Redis is never reached: the token is checked first (this port has no Redis).
    const worker = new SpactWorker({
      redis: 'redis://127.0.0.1:1',
      app: base,
      token: 'not a token',
      tmpDir: tmp,
      log: () => {},
    });
    await expect(worker.start()).rejects.toMatchObject({
      kind: 'unauthorized',
      message: expect.stringContaining('--issue-token'),
    });
    await worker.close();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('refuses to serve off loopback without TLS', async () => {
    const open = new WorkChannel({ db, dataDir, uploadDir, listen: '0.0.0.0:0' });
    await expect(open.start()).rejects.toMatchObject({ kind: 'validation' });
  });
});
