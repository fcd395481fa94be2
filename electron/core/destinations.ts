// Output destinations (export folders, anonymized files) are checked before anything is queued or
// written: an absolute path, not on a system file system (/proc, /sys, /dev: Node's recursive
// mkdir never returns on some of them), creatable and writable, not one of the inputs, and not
// overwritten unless asked. Every file system call of the check runs in a short-lived child
// process with a time limit, so a hanging path (a pseudo file system, a dead network drive) can
// never block the thread that called it. Errors are one line with a kind (SpactError).
import { spawn } from 'node:child_process';
import path from 'node:path';

import { SpactError } from './errors.js';

/** File system types that hold no user data (Linux /proc/self/mounts, macOS devfs). */
export const SYSTEM_FS_TYPES = [
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'devfs',
  'cgroup',
  'cgroup2',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'configfs',
  'fusectl',
  'mqueue',
  'hugetlbfs',
  'binfmt_misc',
  'efivarfs',
  'selinuxfs',
  'nsfs',
  'rpc_pipefs',
] as const;

/** Folders that are system file systems wherever they are mounted, and the type named for them. */
const SYSTEM_ROOTS: [string, string][] = [
  ['/proc', 'proc'],
  ['/sys', 'sysfs'],
  ['/dev', 'devtmpfs'],
];

/** The default time limit of a check: long enough for a slow disk, short enough for a form. */
export const CHECK_TIMEOUT_MS = 2000;
/** How long the probe process itself may take to start (a loaded machine, a cold disk). */
const STARTUP_TIMEOUT_MS = 30_000;

/**
 * The system file system a path lies under, judged by its name alone (no file system call), or
 * null. Catches /proc, /sys and /dev on POSIX; symbolic links into them are found by the full check.
 */
export function systemRootOf(p: string): string | null {
  if (process.platform === 'win32' || !path.isAbsolute(p)) return null;
  const n = path.posix.normalize(p);
  for (const [root, fstype] of SYSTEM_ROOTS) if (n === root || n.startsWith(`${root}/`)) return fstype;
  return null;
}

export interface DestinationTarget {
  /** Absolute path of the folder or file to be written. */
  path: string;
  kind: 'folder' | 'file';
  /** How the messages name it, e.g. "the export folder". */
  label: string;
}

export interface DestinationOptions {
  /** Files the outputs must not be (compared by device and inode: symbolic and hard links too). */
  inputs?: string[];
  /** Replace an existing file, or write into a folder that is not empty. */
  overwrite?: boolean;
  /** Folders must be empty (or missing) unless `overwrite`. */
  requireEmpty?: boolean;
  /** How the user asks for an overwrite, e.g. "add --force to replace it"; ends the message. */
  overwriteHint?: string;
  timeoutMs?: number;
}

/** What the probe child reports for one target. */
interface ProbeReport {
  /** A component on the way could not be looked at (EACCES, ELOOP…). */
  error?: { code: string; at: string };
  /** The nearest existing folder at or above the folder to write in (its real path). */
  existing?: string;
  /** Set when the nearest existing path is not a folder. */
  notFolder?: string;
  /** The real path of the folder written in (existing part resolved, the rest appended). */
  real?: string;
  /** System file system type of `real` (by mount table or name), or null. */
  systemFs?: string | null;
  /** access(W_OK|X_OK) of `existing` failed with this code. */
  notWritable?: string;
  /** The target itself. */
  target?: { exists: boolean; dir?: boolean; file?: boolean; nonEmpty?: boolean; sameAs?: string };
}

// Runs in a child process (plain CommonJS, no imports from the app): reads the request as JSON on
// stdin, prints one JSON line. It never creates anything.
const PROBE = String.raw`
const fs = require('fs');
const path = require('path');
const req = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write('started\n'); // the time limit counts from here, not from the process start
// Read after the paths were resolved: resolving may have mounted an automounted folder.
let mounts;
function readMounts() {
  try {
    return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(Boolean).map((l) => {
      const f = l.split(' ');
      const un = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
      return { point: un(f[1] || ''), type: f[2] || '' };
    });
  } catch {
    return null;
  }
}
const roots = req.roots;
function systemFs(real) {
  for (const [root, type] of roots) if (real === root || real.startsWith(root + '/')) return type;
  if (mounts === undefined) mounts = readMounts();
  if (!mounts) return null;
  let best = null;
  for (const m of mounts) {
    const p = m.point;
    const under = p === '/' || real === p || real.startsWith(p + '/');
    if (under && (!best || p.length >= best.point.length)) best = m;
  }
  if (!best) return null;
  if (req.systemTypes.includes(best.type)) return best.type;
  // tmpfs mounted under /dev or /sys (e.g. /dev/shm, /sys/fs/cgroup) belongs to the system.
  if (best.type === 'tmpfs' && (best.point.startsWith('/dev/') || best.point.startsWith('/sys/'))) return 'tmpfs';
  return null;
}
function id(p) {
  try {
    const s = fs.statSync(p, { bigint: true });
    return s.dev + ':' + s.ino;
  } catch {
    return null;
  }
}
const inputs = (req.inputs || []).map((p) => ({ p, id: id(p) })).filter((i) => i.id);
const reports = req.targets.map((t) => {
  const r = {};
  const dir = t.kind === 'folder' ? t.path : path.dirname(t.path);
  let p = dir;
  const missing = [];
  for (;;) {
    try {
      fs.lstatSync(p);
      break;
    } catch (e) {
      if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') {
        r.error = { code: e.code || String(e), at: p };
        return r;
      }
      const parent = path.dirname(p);
      if (parent === p) {
        r.error = { code: e.code, at: p };
        return r;
      }
      missing.unshift(path.basename(p));
      p = parent;
    }
  }
  let real;
  try {
    real = fs.realpathSync(p);
  } catch (e) {
    r.error = { code: e.code || String(e), at: p };
    return r;
  }
  r.existing = real;
  r.real = path.join(real, ...missing);
  r.systemFs = systemFs(r.real);
  if (r.systemFs) return r;
  let isDir = false;
  try {
    isDir = fs.statSync(real).isDirectory();
  } catch (e) {
    r.error = { code: e.code || String(e), at: p };
    return r;
  }
  if (!isDir) {
    r.notFolder = p;
    return r;
  }
  try {
    fs.accessSync(real, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    r.notWritable = e.code || String(e);
  }
  const target = { exists: false };
  if (t.kind === 'folder') {
    if (missing.length === 0) {
      target.exists = true;
      target.dir = true;
      try {
        const d = fs.opendirSync(real);
        target.nonEmpty = d.readSync() !== null;
        d.closeSync();
      } catch {}
    }
  } else if (missing.length === 0) {
    const file = path.join(real, path.basename(t.path));
    let st = null;
    try {
      st = fs.statSync(file);
    } catch (e) {
      if (e.code !== 'ENOENT') {
        try {
          fs.lstatSync(file);
          target.exists = true;
        } catch {}
      }
    }
    if (st) {
      target.exists = true;
      target.dir = st.isDirectory();
      target.file = st.isFile();
      const mine = id(file);
      const same = inputs.find((i) => i.id === mine);
      if (same) target.sameAs = same.p;
    }
  }
  r.target = target;
  return r;
});
process.stdout.write(JSON.stringify(reports) + '\n');
`;

/** Runs the probe in a child process; kills it after `timeoutMs`. Null when it ran out of time. */
function probe(targets: DestinationTarget[], inputs: string[], timeoutMs: number): Promise<ProbeReport[] | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROBE], {
      // In Electron (main or utility process) execPath is the Electron binary: run it as Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const kill = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    // Starting a process can take seconds on a busy machine: that is not the folder's fault. The
    // folder's limit starts when the probe says it is running.
    let timer = setTimeout(kill, STARTUP_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      if (!stdout.includes('\n') && (stdout + d.toString()).includes('\n')) {
        clearTimeout(timer);
        timer = setTimeout(kill, timeoutMs);
      }
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {}); // a child that died early is reported by 'close'
    child.stdin.end(
      JSON.stringify({
        targets: targets.map((t) => ({ path: t.path, kind: t.kind })),
        inputs,
        roots: SYSTEM_ROOTS,
        systemTypes: SYSTEM_FS_TYPES,
      }),
    );
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SpactError('internal', `the destination check could not start: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return resolve(null);
      try {
        if (code !== 0) throw new Error(stderr.trim().split('\n').at(-1) ?? `exit ${code}`);
        resolve(JSON.parse(stdout.slice(stdout.indexOf('\n') + 1)) as ProbeReport[]);
      } catch (err) {
        reject(new SpactError('internal', `the destination check failed: ${(err as Error).message}`));
      }
    });
  });
}

const systemFsError = (t: DestinationTarget, fstype: string) =>
  new SpactError(
    'validation',
    `${t.label} ${t.path} is on a system file system (${fstype}); choose a folder in your home or on a data disk`,
    { reason: 'system-fs', path: t.path, fstype },
  );

/**
 * Checks where outputs will be written, before anything is queued or created; throws a one-line
 * SpactError for the first problem. A missing folder is fine when it can be created (the nearest
 * existing folder above it is writable). The file system work runs in a child process limited to
 * `timeoutMs` (default 2 s), never on the calling thread; paths under /proc, /sys and /dev are
 * refused at once, without any file system call.
 */
export async function checkDestinations(targets: DestinationTarget[], opts: DestinationOptions = {}): Promise<void> {
  for (const t of targets) {
    if (!path.isAbsolute(t.path))
      throw new SpactError('validation', `${t.label} must be an absolute path, got "${t.path}"`, {
        reason: 'relative',
        path: t.path,
      });
    const fstype = systemRootOf(t.path);
    if (fstype) throw systemFsError(t, fstype);
  }
  if (targets.length === 0) return;
  const timeoutMs = opts.timeoutMs ?? CHECK_TIMEOUT_MS;
  const reports = await probe(targets, opts.inputs ?? [], timeoutMs);
  if (!reports) {
    const what = targets.length === 1 ? `${targets[0]!.label} ${targets[0]!.path}` : 'the destination';
    const limit = timeoutMs >= 1000 ? `${+(timeoutMs / 1000).toFixed(1)} s` : `${timeoutMs} ms`;
    throw new SpactError(
      'unavailable',
      `${what} did not answer within ${limit} (a disconnected network drive?); choose another folder`,
      { reason: 'timeout' },
    );
  }
  const hint = opts.overwriteHint ? `; ${opts.overwriteHint}` : '';
  for (const [i, t] of targets.entries()) {
    const r = reports[i]!;
    const where = `${t.label} ${t.path}`;
    if (r.error)
      throw new SpactError(
        r.error.code === 'EACCES' ? 'unavailable' : 'validation',
        `${where} cannot be reached: ${r.error.at} (${r.error.code})`,
        { reason: 'unreachable', path: t.path, code: r.error.code },
      );
    if (r.systemFs) throw systemFsError(t, r.systemFs);
    if (r.notFolder)
      throw new SpactError('validation', `${where} cannot be created: ${r.notFolder} is a file, not a folder`, {
        reason: 'not-a-folder',
        path: t.path,
      });
    if (r.notWritable)
      throw new SpactError(
        'unavailable',
        `${where} is not writable (${r.notWritable} on ${r.existing}); choose a folder you can write to`,
        { reason: 'not-writable', path: t.path },
      );
    const target = r.target ?? { exists: false };
    if (t.kind === 'file') {
      if (target.sameAs !== undefined)
        throw new SpactError(
          'validation',
          `${where} is the input ${target.sameAs} itself; choose another output so the original is kept`,
          { reason: 'same-as-input', path: t.path, input: target.sameAs },
        );
      if (target.exists && target.dir)
        throw new SpactError('validation', `${where} is a folder; give a file name`, {
          reason: 'is-a-folder',
          path: t.path,
        });
      if (target.exists && !target.file)
        throw new SpactError('validation', `${where} exists and is not a regular file`, {
          reason: 'not-a-file',
          path: t.path,
        });
      if (target.exists && !opts.overwrite)
        throw new SpactError('conflict', `${where} already exists${hint}`, { reason: 'exists', path: t.path });
    } else if (target.nonEmpty && opts.requireEmpty && !opts.overwrite) {
      throw new SpactError('conflict', `${where} is not empty${hint}`, { reason: 'not-empty', path: t.path });
    }
  }
}

/** checkDestinations for one target. */
export function checkDestination(
  target: string,
  kind: DestinationTarget['kind'],
  label: string,
  opts: DestinationOptions = {},
): Promise<void> {
  return checkDestinations([{ path: target, kind, label }], opts);
}
