import fs from 'node:fs';
import path from 'node:path';

import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

/** Lints a fixture as if it lived at `virtualPath`, returning the restricted-import messages. */
async function lintAs(fixture: string, virtualPath: string): Promise<string[]> {
  const code = fs.readFileSync(path.join(root, 'test/fixtures/arch', fixture), 'utf8');
  const [result] = await eslint.lintText(code, { filePath: path.join(root, virtualPath) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
    .map((m) => m.message);
}

describe('architecture guards (lint)', () => {
  it('rejects electron imported from electron/core', async () => {
    const messages = await lintAs('core-imports-electron.ts', 'electron/core/x.ts');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('electron/core/ and native-models/ must not import Electron');
  });

  it('rejects electron imported from native-models', async () => {
    const messages = await lintAs('core-imports-electron.ts', 'native-models/ts/x.ts');
    expect(messages).toHaveLength(1);
  });

  it('allows electron in main.ts (the shell)', async () => {
    expect(await lintAs('core-imports-electron.ts', 'electron/main-fixture.ts')).toEqual([]);
  });

  it('rejects Node built-ins in the renderer', async () => {
    const messages = await lintAs('renderer-imports-node.ts', 'renderer/src/x.ts');
    expect(messages[0]).toContain('browser context');
  });

  it('rejects the renderer reaching into electron/core', async () => {
    const messages = await lintAs('renderer-imports-core.ts', 'renderer/src/lib/x.ts');
    expect(messages[0]).toContain('only the types of electron/contract.ts');
  });

  it('rejects value imports of the contract in the renderer but allows type imports', async () => {
    expect(await lintAs('renderer-value-import-contract.ts', 'renderer/src/lib/x.ts')).toHaveLength(1);
    expect(await lintAs('renderer-type-import-contract.ts', 'renderer/src/lib/x.ts')).toEqual([]);
  });
});
