// The passphrase that opens a data folder's raw footage, for commands that open the library:
// from SPACT_PASSPHRASE, from --passphrase-file FILE (any command), or asked on the terminal
// (hidden; asked twice when the folder has no vault yet). Child processes (the core host) inherit
// it through the environment of this process, never through their command line.
import fs from 'node:fs';
import path from 'node:path';

import { defaultDataDir } from '../core/paths.js';
import { MIN_PASSPHRASE_LENGTH, VAULT_FILE } from '../core/vault/vault.js';
import { UsageError } from './cli-kit.js';

/** Whether a command line opens the library (and so its vault): the library commands, and
 *  anonymize/export/finetune/audit when they name library clips or a room. */
export function opensLibrary(command: string, argv: string[]): boolean {
  if (['serve', 'import', 'clips', 'rooms'].includes(command)) return true;
  return ['--clips', '--room'].some((flag) => argv.some((a) => a === flag || a.startsWith(`${flag}=`)));
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Takes --passphrase-file out of the arguments and makes sure SPACT_PASSPHRASE is set if it can be. */
export async function providePassphrase(command: string, argv: string[]): Promise<string[]> {
  const rest = [...argv];
  const i = rest.findIndex((a) => a === '--passphrase-file' || a.startsWith('--passphrase-file='));
  if (i >= 0) {
    const [flag, inline] = rest[i]!.split(/=(.*)/s);
    const file = inline ?? rest[i + 1];
    rest.splice(i, inline === undefined ? 2 : 1);
    if (!file) throw new UsageError(`${flag} needs a file`);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new UsageError(`cannot read the passphrase file ${file}`);
    }
    process.env.SPACT_PASSPHRASE = text.replace(/\r?\n$/, '');
    return rest;
  }
  if (process.env.SPACT_PASSPHRASE || process.env.SPACT_VAULT_KEY || !opensLibrary(command, rest)) return rest;
  if (!process.stdin.isTTY || !process.stderr.isTTY) return rest; // opening the vault says what is missing
  const d = rest.indexOf('--data-dir');
  const dataDir = path.resolve(d >= 0 && rest[d + 1] ? rest[d + 1]! : defaultDataDir());
  if (fs.existsSync(path.join(dataDir, VAULT_FILE))) {
    process.env.SPACT_PASSPHRASE = await readHidden(`Passphrase for the raw footage in ${dataDir}: `);
    return rest;
  }
  process.stderr.write(
    `Raw footage in ${dataDir} is stored encrypted. Choose a passphrase (at least ${MIN_PASSPHRASE_LENGTH} characters);\n` +
      'without it the clips cannot be opened again.\n',
  );
  for (;;) {
    const first = await readHidden('New passphrase: ');
    if (first.length < MIN_PASSPHRASE_LENGTH) {
      process.stderr.write(`At least ${MIN_PASSPHRASE_LENGTH} characters, please.\n`);
      continue;
    }
    if ((await readHidden('The same again: ')) === first) {
      process.env.SPACT_PASSPHRASE = first;
      return rest;
    }
    process.stderr.write('The two did not match.\n');
  }
}
