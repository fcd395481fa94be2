#!/usr/bin/env node
// `npm start` after set-up: the Electron app when its binary is installed, otherwise browser mode
// (`spact serve`: core on 127.0.0.1 with a per-start token, opened in a Chromium app window when
// a display exists, else the one-time link is printed). Extra arguments go to `spact serve`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const passThrough = process.argv.slice(2);

function electronBinary() {
  if (process.env.SPACT_FORCE_BROWSER === '1') return null;
  try {
    const exe = createRequire(import.meta.url)('electron');
    return typeof exe === 'string' && fs.existsSync(exe) ? exe : null;
  } catch {
    return null; // optional dependency not installed, or its binary was never downloaded
  }
}

const electron = electronBinary();
const [cmd, args] = electron
  ? [electron, [root]]
  : [process.execPath, [path.join(root, 'bin', 'spact.js'), 'serve', ...passThrough]];
if (!electron) {
  process.stderr.write(
    '[start] Electron is not installed (its binary cannot be downloaded offline): using browser mode.\n',
  );
}
const child = spawn(cmd, args, { stdio: 'inherit', cwd: root });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
