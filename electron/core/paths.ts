import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding the project's package.json, found from this file in src or in dist. */
export function projectRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'spact-desktop') {
      root = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('spact-desktop package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The built renderer (index.html and assets), served by browser mode and loaded by Electron. */
export function rendererDir(): string {
  return path.join(projectRoot(), 'dist', 'renderer');
}

/**
 * Where the library, models and database live. SPACT_DATA_DIR overrides; otherwise the platform's
 * per-user data folder (XDG_DATA_HOME on Linux, %APPDATA% on Windows, Application Support on macOS).
 */
export function defaultDataDir(): string {
  if (process.env.SPACT_DATA_DIR) return path.resolve(process.env.SPACT_DATA_DIR);
  const home = process.env.HOME ?? process.env.USERPROFILE ?? '.';
  if (process.platform === 'win32') {
    return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'spact-desktop');
  }
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'spact-desktop');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'spact-desktop');
}
