// Shared plumbing for `spact` subcommands: argument parsing, --json output, one-line errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { SpactError } from '../core/errors.js';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad command lines: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Human progress goes to stderr so stdout stays one JSON object with --json. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function describeError(err: unknown): string {
  if (err instanceof SpactError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
