// A real Redis for tests: Debian's redis-server (scripts/setup.mjs installs it) on a free loopback
// port (redis has no `--port 0`: a port is picked free, and another tried if it was taken
// meanwhile), nothing persisted, its folder temporary; killed by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server and starts an empty one on the same port (a restart without persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export const REDIS_SERVER = process.env.SPACT_REDIS_SERVER ?? '/usr/bin/redis-server';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string): Promise<ChildProcess | null> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      if (out.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += String(d)));
    child.on('error', reject);
    // Exited before it was ready: the port was taken (retried) or redis cannot start (thrown).
    child.on('exit', () =>
      /Address already in use/.test(out) ? resolve(null) : reject(new Error(`redis-server: ${out}`)),
    );
  });
}

export async function startRedis(): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-redis-'));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    let child = await launch(port, dir);
    if (!child) continue;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      restart: async () => {
        await kill(child!);
        const again = await launch(port, dir);
        if (!again) throw new Error(`redis-server: port ${port} was taken during the restart`);
        child = again;
      },
      stop: async () => {
        await kill(child!);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error('redis-server: no free port after 5 attempts');
}
