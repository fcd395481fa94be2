import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Flags that keep Chromium quiet on an offline machine (no background connections, no updates). */
export const CHROMIUM_OFFLINE_FLAGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-dev-shm-usage',
];

const CANDIDATES =
  process.platform === 'win32'
    ? [
        'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
        'C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe',
      ]
    : process.platform === 'darwin'
      ? [
          '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
          '/Applications/Chromium.app/Contents/MacOS/Chromium',
        ]
      : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export function findChromium(): string | null {
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  return CANDIDATES.find((c) => fs.existsSync(c)) ?? null;
}

export function hasDisplay(): boolean {
  if (process.platform !== 'linux') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

/**
 * Opens `url` as an app window (no tabs, no address bar) in a private profile under `profileDir`.
 * Returns null when no browser or no display exists; the caller then prints the URL instead.
 */
export function openAppWindow(url: string, profileDir: string): ChildProcess | null {
  const exe = findChromium();
  if (!exe || !hasDisplay()) return null;
  fs.mkdirSync(profileDir, { recursive: true });
  const args = [`--app=${url}`, `--user-data-dir=${path.resolve(profileDir)}`, ...CHROMIUM_OFFLINE_FLAGS];
  if (process.getuid?.() === 0) args.push('--no-sandbox'); // Chromium refuses to start as root otherwise
  const child = spawn(exe, args, { stdio: 'ignore', detached: false });
  child.on('error', () => undefined);
  return child;
}
