// The workers' data channel (no Redis needed): a worker token on every request, grants per job,
// Range reads of the input, uploads refused unless their sha256 is the announced one.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { openDatabase } from '../../electron/core/db/database.js';
import { queueKeys, queueNameOf } from '../../electron/core/jobs/bullmq-queue.js';
import { WorkChannel } from '../../electron/core/workers/work-channel.js';
import { SpactWorker } from '../../electron/core/workers/worker.js';
import { spactSync } from '../helpers/cli.js';
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
    const put = (announced: string, body: Buffer = output) =>
      fetch(`${base}/v1/output/${grant}`, {
        method: 'PUT',
        headers: { ...auth, 'X-Content-SHA256': announced },
        body,
      });
    expect((await put(sha(Buffer.from('something else')))).status).toBe(422);
    expect(fs.readdirSync(uploadDir)).toEqual([]); // a refused upload leaves nothing
    expect(channel.takeUpload(grant, sha(output))).toBeNull();
    expect((await put(sha(output))).status).toBe(200);
    // A stale attempt's upload arriving later (a worker that lost the job) does not replace it.
    const stale = Buffer.from('an older attempt');
    expect((await put(sha(stale), stale)).status).toBe(200);
    const up = channel.takeUpload(grant, sha(output))!;
    expect(up.sha256).toBe(sha(output));
    expect(fs.readFileSync(up.file)).toEqual(output);

    // A revoked grant is no longer served; uploads nobody took are removed with it.
    expect((await put(sha(output))).status).toBe(200);
    const pending = fs.readdirSync(uploadDir).filter((f) => f !== path.basename(up.file));
    expect(pending).toHaveLength(2);
    channel.revoke(grant);
    for (const f of pending) expect(fs.existsSync(path.join(uploadDir, f))).toBe(false);
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

  it("serves a fine-tune's inputs by index, and nothing past them", async () => {
    const base = await channel.start();
    const auth = { Authorization: `Bearer ${channel.tokens.issue('w-many')}` };
    const files = ['a', 'b', 'c'].map((name) => {
      const f = path.join(dataDir, `${name}.bin`);
      fs.writeFileSync(f, `clip ${name}`);
      return f;
    });
    const grant = channel.grant(files);
    const uploadsBefore = fs.readdirSync(uploadDir);
    const text = async (url: string) => {
      const r = await fetch(url, { headers: auth });
      return [r.status, r.status === 200 ? await r.text() : ''];
    };
    expect(await text(`${base}/v1/input/${grant}`)).toEqual([200, 'clip a']);
    expect(await text(`${base}/v1/input/${grant}/0`)).toEqual([200, 'clip a']);
    expect(await text(`${base}/v1/input/${grant}/2`)).toEqual([200, 'clip c']);
    for (const tail of ['3', '-1', '1.5', 'x', '1/extra', '99999999'])
      expect((await text(`${base}/v1/input/${grant}/${tail}`))[0]).toBe(404);
    // Uploads go to the grant itself, not to one of its inputs.
    const put = await fetch(`${base}/v1/output/${grant}/0`, {
      method: 'PUT',
      headers: { ...auth, 'X-Content-SHA256': sha(Buffer.from('x')) },
      body: 'x',
    });
    expect(put.status).toBe(405);
    expect(fs.readdirSync(uploadDir)).toEqual(uploadsBefore);
    channel.revoke(grant);
  });

  it('revokes a worker token: refused from its next request on; tokens listed by name, never shown', async () => {
    const base = await channel.start();
    const token = channel.tokens.issue('w-gone');
    const url = `${base}/v1/models/${'0'.repeat(64)}`;
    expect((await fetch(url, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(404);
    channel.tokens.revoke('w-gone');
    expect((await fetch(url, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(() => channel.tokens.revoke('w-gone')).toThrow(/no worker token named "w-gone"/);

    // The same through the CLI, on a data folder of its own.
    const dir = tmpDir('spact-tokens-');
    const issued = spactSync(['worker', '--issue-token', 'gpu-1', '--data-dir', dir]);
    expect(issued.code).toBe(0);
    const listed = spactSync(['worker', '--list-tokens', '--json', '--data-dir', dir]);
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'gpu-1', createdAt: expect.any(String) }]);
    expect(listed.stdout).not.toContain(issued.stdout.trim());
    expect(spactSync(['worker', '--revoke-token', 'gpu-1', '--data-dir', dir]).code).toBe(0);
    expect(spactSync(['worker', '--list-tokens', '--data-dir', dir]).stdout).toBe('no worker tokens\n');
    const again = spactSync(['worker', '--revoke-token', 'gpu-1', '--data-dir', dir]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/no worker token named "gpu-1"/);
  });

  it('names a queue per app: its own BullMQ queue and keys; bad names refused', () => {
    expect(queueKeys()).toMatchObject({ queue: 'spact-jobs', workers: 'spact:workers' });
    const clinicB = queueKeys(queueNameOf('clinic-b'));
    expect(clinicB).toMatchObject({ queue: 'clinic-b', workers: 'spact:clinic-b:workers' });
    expect(clinicB.cancel('job-1-ab')).toBe('spact:clinic-b:cancel:job-1-ab');
    expect(queueNameOf(undefined)).toBe('spact-jobs');
    for (const bad of ['a b', 'x:y', 'q'.repeat(65)]) expect(() => queueNameOf(bad)).toThrow(/a queue name is/);
  });

  it('serves over TLS off loopback; a worker trusting the clinic CA (--ca) reaches it, others are refused', async () => {
    const dir = tmpDir('spact-channel-tls-');
    const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=spact-app',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    expect(made.status, String(made.stderr)).toBe(0);
    // Listening on every interface is allowed with a certificate.
    const tls = new WorkChannel({ db, dataDir, uploadDir, listen: '0.0.0.0:0', tls: { cert, key } });
    try {
      const port = new URL(await tls.start()).port;
      const base = `https://127.0.0.1:${port}`;
      const ca = fs.readFileSync(cert, 'utf8');
      const input = path.join(dir, 'input.bin');
      fs.writeFileSync(input, 'raw footage');
      const grant = tls.grant(input);
      const token = tls.tokens.issue('w-tls');
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${base}/v1/input/${grant}`, { ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
            let text = '';
            res.on('data', (d) => (text += String(d)));
            res.on('end', () => resolve(`${res.statusCode} ${text}`));
          })
          .on('error', reject);
      });
      expect(body).toBe('200 raw footage');
      // Plain HTTP gets no answer from the TLS port.
      await expect(fetch(`http://127.0.0.1:${port}/v1/input/${grant}`)).rejects.toThrow();
      const worker = (extra: { ca?: string }) =>
        new SpactWorker({
          redis: 'redis://127.0.0.1:1',
          app: base,
          token: 'wrong',
          tmpDir: dir,
          log: () => {},
          ...extra,
        });
      // With the CA the worker reaches the app over TLS (and reads its answer: this token is not accepted)…
      const trusting = worker({ ca });
      await expect(trusting.start()).rejects.toMatchObject({ kind: 'unauthorized' });
      await trusting.close();
      // …without it, it refuses the app's certificate.
      const untrusting = worker({});
      await expect(untrusting.start()).rejects.toMatchObject({
        kind: 'unavailable',
        message: expect.stringMatching(/certificate/),
      });
      await untrusting.close();
      tls.revoke(grant);
    } finally {
      await tls.stop();
    }
  });

  it('refuses to serve off loopback without TLS', async () => {
    const open = new WorkChannel({ db, dataDir, uploadDir, listen: '0.0.0.0:0' });
    await expect(open.start()).rejects.toMatchObject({ kind: 'validation' });
  });
});
