// Browser mode's folder picker stays under its roots: `..`, symbolic links out and relative paths
// are refused; the listing shows folders (no hidden ones), the parent only while under a root, and
// how full a folder is. Also the export plan's model mix (which models made an export's clips).
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { modelMix } from '../../electron/core/export/export-plan.js';
import { defaultExportRoots, FolderBrowser } from '../../electron/core/export/folder-browser.js';
import { SpactError } from '../../electron/core/errors.js';
import { tmpDir } from '../helpers/toy-clips.js';

function tree() {
  const base = tmpDir('spact-browse-');
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(root, 'exports', 'march'), { recursive: true });
  fs.mkdirSync(path.join(root, '.hidden'));
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'x');
  fs.writeFileSync(path.join(root, 'exports', 'notes.txt'), 'x');
  fs.symlinkSync(outside, path.join(root, 'link-out'));
  fs.symlinkSync(path.join(root, 'exports'), path.join(root, 'link-in'));
  return { base, root, outside };
}

const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SpactError);
    return { kind: (err as SpactError).kind, reason: ((err as SpactError).details as { reason: string }).reason };
  }
  throw new Error('not refused');
};

describe('FolderBrowser', () => {
  it('lists the roots, then folders under them without hidden ones or links that lead out', async () => {
    const { root } = tree();
    const b = new FolderBrowser([root]);
    const top = await b.list();
    expect(top.path).toBeNull();
    expect(top.folders.map((f) => f.path)).toEqual([fs.realpathSync(root)]);
    const l = await b.list(root);
    expect(l.folders.map((f) => f.name)).toEqual(['exports', 'link-in']);
    expect(l.parent).toBeNull(); // the root's parent is outside
    expect(l.entries).toBe(4);
    const ex = await b.list(path.join(root, 'exports'));
    expect(ex.folders.map((f) => f.name)).toEqual(['march']);
    expect(ex.parent).toBe(fs.realpathSync(root));
    expect(ex.entries).toBe(2); // a file counts: the folder is not empty
    expect((await b.list(path.join(root, 'exports', 'march'))).entries).toBe(0);
  });

  it('refuses .., symbolic links out of the roots, relative paths and files', async () => {
    const { root, outside } = tree();
    const b = new FolderBrowser([root]);
    expect(await reasonOf(b.list(path.join(root, '..', 'outside')))).toEqual({
      kind: 'validation',
      reason: 'outside-roots',
    });
    expect(await reasonOf(b.list(`${root}/exports/../../outside`))).toEqual({
      kind: 'validation',
      reason: 'outside-roots',
    });
    expect(await reasonOf(b.list(path.join(root, 'link-out')))).toEqual({
      kind: 'validation',
      reason: 'outside-roots',
    });
    expect(await reasonOf(b.list(outside))).toEqual({ kind: 'validation', reason: 'outside-roots' });
    expect(await reasonOf(b.list('/'))).toEqual({ kind: 'validation', reason: 'outside-roots' });
    expect(await reasonOf(b.list('exports'))).toEqual({ kind: 'validation', reason: 'relative' });
    expect(await reasonOf(b.list(path.join(root, 'exports', 'notes.txt')))).toEqual({
      kind: 'validation',
      reason: 'not-folder',
    });
    expect(await reasonOf(b.list(path.join(root, 'nope')))).toEqual({ kind: 'not-found', reason: 'missing' });
    // A link that stays inside is followed, and listed as its real path.
    expect((await b.list(path.join(root, 'link-in'))).path).toBe(fs.realpathSync(path.join(root, 'exports')));
  });

  it('does not take a sibling that shares the root name as a prefix for the root', async () => {
    const { base, root } = tree();
    fs.mkdirSync(`${root}-evil`);
    expect(await reasonOf(new FolderBrowser([root]).list(`${root}-evil`))).toEqual({
      kind: 'validation',
      reason: 'outside-roots',
    });
    expect(fs.existsSync(base)).toBe(true);
  });

  it('takes its roots from SPACT_EXPORT_ROOTS (existing absolute ones only)', () => {
    const { root, outside } = tree();
    const env = { SPACT_EXPORT_ROOTS: [root, 'relative', path.join(outside, 'gone'), outside].join(path.delimiter) };
    expect(defaultExportRoots(env)).toEqual([root, outside]);
  });
});

describe('modelMix', () => {
  it('counts the clips of each model, most first, and calls more than one model mixed', () => {
    expect(
      modelMix([
        { clipId: 1, modelId: 3 },
        { clipId: 2, modelId: 5 },
        { clipId: 3, modelId: 5 },
        { clipId: 4, modelId: null },
      ]),
    ).toEqual({
      models: [
        { id: 5, clips: 2 },
        { id: 3, clips: 1 },
      ],
      mixed: true,
      missing: [4],
    });
    expect(
      modelMix([
        { clipId: 1, modelId: 2 },
        { clipId: 2, modelId: 2 },
      ]).mixed,
    ).toBe(false);
    expect(modelMix([{ clipId: 1, modelId: null }])).toEqual({ models: [], mixed: false, missing: [1] });
  });
});
