// The browser-mode app for e2e tests: `spact serve` on a data folder, its launch link, and a
// Chromium page signed in through it. One start-up for every e2e file that drives the real UI.
import { spawn, type ChildProcess } from 'node:child_process';

import type { Browser, Page } from 'playwright-core';

import { launchChromium } from './chromium.js';
import { projectRoot, spactBin } from './cli.js';
import { tmpDir } from './toy-clips.js';
import { tinyModel } from './video.js';

export type Role = 'admin' | 'operator' | 'viewer';

/** A running `spact serve`: its process, its one-time launch link and its data folder. */
export interface Server {
  process: ChildProcess;
  url: string;
  dataDir: string;
  /** SIGTERM, resolved once the process has exited (the data folder is then free). */
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** The data folder (a new temporary one when omitted). */
  dataDir?: string;
  role?: Role;
  /** Sets SPACT_DEFAULT_MODEL to the tiny test model (trained once per machine). */
  model?: boolean;
}

/** `spact serve --json` on a data folder; resolves with its launch link once it is printed. */
export async function serve(opts: ServeOptions = {}): Promise<Server> {
  const dataDir = opts.dataDir ?? tmpDir('spact-e2e-');
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.model) env.SPACT_DEFAULT_MODEL = await tinyModel();
  const child = spawn(
    process.execPath,
    [spactBin, 'serve', '--no-open', '--json', '--data-dir', dataDir, '--role', opts.role ?? 'admin'],
    { cwd: projectRoot, env },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"url": "([^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return {
    process: child,
    url,
    dataDir,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Chromium flags for a fake camera that needs no permission prompt (the live view's local source). */
export const FAKE_CAMERA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

export interface E2eApp {
  server: Server;
  browser: Browser;
  page: Page;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

export interface StartOptions extends ServeOptions {
  /** A fake camera in Chromium, with the camera permission granted to the page. */
  fakeCamera?: boolean;
}

/**
 * The app as a user meets it: the server, Chromium, and a 1280×800 page opened on the launch link
 * with the Library shown.
 */
export async function startApp(opts: StartOptions = {}): Promise<E2eApp> {
  const server = await serve(opts);
  const browser = await launchChromium(opts.fakeCamera ? FAKE_CAMERA_ARGS : []);
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    ...(opts.fakeCamera ? { permissions: ['camera'] } : {}),
  });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByTestId('nav-library').waitFor();
  return {
    server,
    browser,
    page,
    url: server.url,
    dataDir: server.dataDir,
    async close() {
      await browser.close();
      await server.stop();
    },
  };
}

export interface ApiReply<T> {
  status: number;
  ok: boolean;
  value: T;
  error?: { kind: string; message: string };
}

/** Calls the API from the page (same origin, same session cookie), as the renderer does. */
export function callApi<T = unknown>(page: Page, method: string, body: unknown = {}): Promise<ApiReply<T>> {
  return page.evaluate(
    async ([m, b]) => {
      const r = await fetch(`/api/${m}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(b),
      });
      return { status: r.status, ...((await r.json()) as { ok: boolean; value: never }) };
    },
    [method, body] as const,
  );
}
