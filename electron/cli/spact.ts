// `spact` command line: one subcommand per file in ./commands. Every command has --help and
// --json, prints progress on stderr, and exits non-zero with a one-line reason on bad input.
import { describeError, UsageError, type Command } from './cli-kit.js';
import { infoCommand } from './commands/info.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';
import { synthCommand } from './commands/synth.js';
import { evalCommand } from './commands/eval.js';
import { anonymizeCommand } from './commands/anonymize.js';
import { auditCommand } from './commands/audit.js';
import { auditLogCommand } from './commands/audit-log.js';
import { camerasCommand } from './commands/cameras.js';
import { exportCommand } from './commands/export.js';
import { finetuneCommand } from './commands/finetune.js';
import { clipsCommand, importCommand, roomsCommand } from './commands/library.js';
import { rawDataCommand } from './commands/raw-data.js';
import { workerCommand } from './commands/worker.js';
import { providePassphrase } from './passphrase.js';

const commands: Command[] = [
  synthCommand,
  trainCommand,
  finetuneCommand,
  evalCommand,
  anonymizeCommand,
  auditCommand,
  importCommand,
  clipsCommand,
  roomsCommand,
  camerasCommand,
  rawDataCommand,
  exportCommand,
  auditLogCommand,
  serveCommand,
  workerCommand,
  infoCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: spact <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `spact <command> --help` for the options of one command.',
    'Commands that open the library take the raw footage passphrase from SPACT_PASSPHRASE,',
    '--passphrase-file FILE, or ask for it on the terminal.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`spact: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(await providePassphrase(command.name, rest));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`spact ${name}: ${err.message}\n\n${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`spact ${name}: error: ${describeError(err)}\n`);
    return 1;
  }
}
