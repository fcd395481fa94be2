import fs from 'node:fs';
import path from 'node:path';

import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const ARCH_RULES = new Set(['@typescript-eslint/no-restricted-imports', 'arch/inward-imports']);
// Only the architecture rules run (the lint stage runs the rest), so every message left is
// either theirs or a parse error, and neither may pass unseen.
const eslint = new ESLint({
  cwd: root,
  ruleFilter: ({ ruleId }) => ARCH_RULES.has(ruleId),
  overrideConfig: { linterOptions: { reportUnusedDisableDirectives: 'off' } },
});

/** Lints a fixture as if it lived at `virtualPath`, returning the architecture rules' messages. */
async function lintAs(fixture: string, virtualPath: string): Promise<string[]> {
  const code = fs.readFileSync(path.join(root, 'test/fixtures/arch', fixture), 'utf8');
  const [result] = await eslint.lintText(code, { filePath: path.join(root, virtualPath) });
  return (result?.messages ?? []).map((m) => m.message);
}

/** The repo paths the outward imports resolved to, as the messages name them. */
const targets = (messages: string[]) => messages.map((m) => m.match(/resolves to (\S+)\.$/)?.[1]);

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
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('only renderer/ and the types of electron/contract.ts');
    expect(messages[0]).toContain('resolves to electron/core/app-info');
  });

  it('rejects the renderer reaching core, native-models or bench, even with import type', async () => {
    const messages = await lintAs('renderer-imports-outside.ts', 'renderer/src/lib/x.ts');
    expect(targets(messages)).toEqual(['electron/core/errors', 'native-models/ts/native', 'bench/report']);
  });

  it('allows the renderer its own modules, packages and contract types', async () => {
    expect(await lintAs('renderer-imports-renderer.ts', 'renderer/src/screens/x.ts')).toEqual([]);
  });

  it('rejects relative imports from electron/core into main, preload, cli and bench', async () => {
    const messages = await lintAs('core-imports-outward.ts', 'electron/core/x.ts');
    expect(targets(messages)).toEqual([
      'electron/main.js',
      'electron/preload.js',
      'electron/cli/spact.js',
      'bench/engine.js',
    ]);
    expect(messages[0]).toContain('electron/core/ may import only');
  });

  it('checks the resolved path, not the spelling: the same import is fine one room up', async () => {
    // From electron/core/x.ts '../main.js' is the shell; from electron/core/jobs/x.ts it is core.
    const messages = await lintAs('core-imports-outward.ts', 'electron/core/jobs/x.ts');
    expect(targets(messages)).toEqual(['electron/bench/engine.js']);
  });

  it('allows electron/core to import core, the contract and native-models', async () => {
    expect(await lintAs('core-imports-inward.ts', 'electron/core/x.ts')).toEqual([]);
  });

  it('rejects native-models importing electron/ (static, re-export and dynamic)', async () => {
    const messages = await lintAs('native-imports-outward.ts', 'native-models/ts/x.ts');
    expect(targets(messages)).toEqual(['electron/core/errors.js', 'electron/cli/spact.js', 'electron/contract.js']);
    expect(messages[0]).toContain('native-models/ is the innermost room');
  });

  it('rejects value imports of the contract in the renderer but allows type imports', async () => {
    expect(await lintAs('renderer-value-import-contract.ts', 'renderer/src/lib/x.ts')).toHaveLength(1);
    expect(await lintAs('renderer-type-import-contract.ts', 'renderer/src/lib/x.ts')).toEqual([]);
    // Except the renderer's contract checks, which parse what arrives with the schemas.
    expect(await lintAs('renderer-value-import-contract.ts', 'renderer/src/lib/contract-checks.ts')).toEqual([]);
    expect(await lintAs('renderer-imports-node.ts', 'renderer/src/lib/contract-checks.ts')).not.toEqual([]);
  });

  it('the real tree has no architecture violations', async () => {
    const results = await eslint.lintFiles([
      'electron/core',
      'native-models/ts',
      'native-models/torch-config.cjs',
      'renderer/src',
    ]);
    expect(results.length).toBeGreaterThan(50);
    const violations = results.flatMap((r) =>
      r.messages.map((m) => `${path.relative(root, r.filePath)}: ${m.message}`),
    );
    expect(violations).toEqual([]);
  });
});
