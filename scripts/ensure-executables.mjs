// The ffmpeg and ffprobe binaries inside node_modules (@ffmpeg-installer/<platform>,
// @ffprobe-installer/<platform>) keep the modes of their npm tarballs, and some are 0744: only
// their owner (root, after a root install) may run them, and every video command of any other user
// fails with `spawn … EACCES`. Set-up makes them executable for everyone. Idempotent (a binary that
// is already a+x is left alone) and tolerant: a file it may not change (another owner, a read-only
// file system) is reported with the command that fixes it, never fatal. No npm dependency here:
// this runs from scripts/setup.mjs.
import fs from 'node:fs';
import path from 'node:path';

const SCOPES = ['@ffmpeg-installer', '@ffprobe-installer'];
const NAMES = ['ffmpeg', 'ffprobe'];

/**
 * Makes the ffmpeg/ffprobe binaries under `nodeModules` executable by all (a+x).
 * Returns what it changed and what it could not change (with the reason).
 */
export function ensureExecutables(nodeModules, { chmod = fs.chmodSync, platform = process.platform } = {}) {
  const result = { fixed: [], failed: [] };
  if (platform === 'win32') return result; // no execute bits there
  for (const scope of SCOPES) {
    let packages;
    try {
      packages = fs.readdirSync(path.join(nodeModules, scope));
    } catch {
      continue; // not installed (yet)
    }
    for (const pkg of packages) {
      for (const name of NAMES) {
        const file = path.join(nodeModules, scope, pkg, name);
        let st;
        try {
          st = fs.statSync(file);
        } catch {
          continue;
        }
        if (!st.isFile() || (st.mode & 0o111) === 0o111) continue;
        try {
          chmod(file, (st.mode & 0o7777) | 0o111);
          result.fixed.push(file);
        } catch (err) {
          result.failed.push({ file, reason: err.code ?? String(err) });
        }
      }
    }
  }
  return result;
}
