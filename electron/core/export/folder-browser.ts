// Browser mode's folder picker: lists folders, but only below the allowed roots, so a page on the
// loopback bridge cannot walk the machine's file system. Every path is resolved to its real path
// before it is compared with the roots' real paths: `..` and symbolic links that lead outside are
// refused like any other outside path. Absolute paths only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { FolderListing } from '../../contract.js';
import { SpactError } from '../errors.js';

/** How many folders one listing returns at most (a huge folder stays a quick answer). */
const MAX_FOLDERS = 500;

/**
 * The roots export folders may be chosen under: SPACT_EXPORT_ROOTS (separated by the platform's
 * path delimiter) when set, else the user's home folder and the usual mount points of removable
 * and network drives. Only those that exist are kept.
 */
export function defaultExportRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const given = env.SPACT_EXPORT_ROOTS?.split(path.delimiter).filter((p) => p.trim());
  const roots = given?.length
    ? given
    : [os.homedir(), ...(process.platform === 'win32' ? [] : ['/media', '/mnt', '/run/media'])];
  return roots.filter((r) => path.isAbsolute(r) && fs.existsSync(r));
}

/** Whether `p` is `root` or lies below it (both already real and normalized). */
const within = (root: string, p: string) =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

export class FolderBrowser {
  private readonly roots: string[];

  constructor(roots: string[]) {
    // Compared by real path: a root that is itself a link is followed once, here.
    this.roots = [...new Set(roots.filter((r) => path.isAbsolute(r)).map((r) => fs.realpathSync(r)))];
  }

  /** The roots, or the folders of one folder under them. */
  async list(p?: string): Promise<FolderListing> {
    if (p === undefined)
      return {
        roots: this.roots,
        path: null,
        parent: null,
        folders: this.roots.map((r) => ({ name: r, path: r })),
        entries: this.roots.length,
      };
    const real = await this.resolve(p);
    let dirents: fs.Dirent[];
    try {
      dirents = await fs.promises.readdir(real, { withFileTypes: true });
    } catch (err) {
      throw new SpactError(
        'unavailable',
        `the folder ${real} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
    const folders: FolderListing['folders'] = [];
    for (const d of dirents) {
      if (folders.length >= MAX_FOLDERS) break;
      if (d.name.startsWith('.')) continue; // hidden folders are not where exports go
      const full = path.join(real, d.name);
      // A link is offered only when it leads to a folder that is still under a root.
      if (d.isDirectory() || (d.isSymbolicLink() && (await this.inside(full))))
        folders.push({ name: d.name, path: full });
    }
    folders.sort((a, b) => a.name.localeCompare(b.name));
    const up = path.dirname(real);
    const parent = up !== real && this.roots.some((r) => within(r, up)) ? up : null;
    return { roots: this.roots, path: real, parent, folders, entries: dirents.length };
  }

  /** The real path of `p` when it is a folder under a root; refused otherwise, with the reason. */
  async resolve(p: string): Promise<string> {
    if (!path.isAbsolute(p))
      throw new SpactError('validation', `give the folder as a full path (for example /home/you/exports), not "${p}"`, {
        reason: 'relative',
      });
    let real: string;
    try {
      real = await fs.promises.realpath(p);
    } catch {
      throw new SpactError('not-found', `the folder ${p} does not exist`, { reason: 'missing' });
    }
    if (!this.roots.some((r) => within(r, real)))
      throw new SpactError(
        'validation',
        `${p} is outside the folders exports may be chosen in (${this.roots.join(', ')})`,
        {
          reason: 'outside-roots',
        },
      );
    const st = await fs.promises.stat(real);
    if (!st.isDirectory()) throw new SpactError('validation', `${p} is not a folder`, { reason: 'not-folder' });
    return real;
  }

  private async inside(p: string): Promise<boolean> {
    try {
      await this.resolve(p);
      return true;
    } catch {
      return false;
    }
  }
}
