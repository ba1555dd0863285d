/**
 * Errors the operator must fix (bad config, missing data, unwritable data directory, a
 * port already in use): reported as one line, exit code 2. Anything else is a bug or an
 * outage: logged with its stack, exit code 1.
 */
import { ConfigError } from './config-error.ts';
import { DataError } from './data-error.ts';
import { JoinError } from './join.ts';
import { StoreError } from './store.ts';

/** An address could not be bound (port in use, address not available, no permission). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

export function isOperatorError(err: unknown): err is Error {
  return (
    err instanceof ConfigError ||
    err instanceof DataError ||
    err instanceof StoreError ||
    err instanceof ListenError ||
    err instanceof JoinError
  );
}

/** Error codes of a failed bind, found anywhere in an error's cause chain. */
const BIND_CODES = ['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES'] as const;

export function bindErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && (BIND_CODES as readonly string[]).includes(code)) return code;
    const message = e instanceof Error ? e.message : '';
    const found = BIND_CODES.find((c) => message.includes(c));
    if (found) return found;
    const nested = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(nested)) {
      for (const inner of nested) {
        const code2 = bindErrorCode(inner);
        if (code2) return code2;
      }
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
