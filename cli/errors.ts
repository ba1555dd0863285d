/**
 * The `meshfl` command line's errors. Each carries its exit code, so the CLI maps an error
 * to a code by its type, never by its message: 0 ok, 1 failure (a bug or an outage: any
 * error not listed here), 2 bad usage or input, 130 interrupted (a result, not an error).
 */

export const EXIT_OK = 0;
/** Anything the user cannot fix by changing the command line or an input file. */
export const EXIT_FAILURE = 1;
/** A bad flag, argument or input file: the message says what to change. */
export const EXIT_USAGE = 2;
/** Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** An error the CLI reports as one line (no stack) and exits with `exitCode`. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/**
 * Bad flags or arguments, or an input the command refuses (scenario file, shard flags):
 * exit 2. The message is printed as it is, so it names the command where that helps.
 */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT_USAGE, options);
  }
}

/**
 * An input file that cannot be used (a model file that is missing, corrupt or of another
 * version): exit 2, printed as "meshfl <command>: <message>".
 */
export class InputError extends CliError {
  override readonly name: string = 'InputError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT_USAGE, options);
  }
}

/** The exit code for an error a command threw: its own for a CliError, else 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : EXIT_FAILURE;
}

/** The one line printed for an error a command threw. */
export function errorLine(command: string | undefined, err: unknown): string {
  if (err instanceof UsageError) return err.message;
  return `meshfl${command === undefined ? '' : ` ${command}`}: ${err instanceof Error ? err.message : String(err)}`;
}
