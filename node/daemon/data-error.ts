/**
 * The daemon's data error, in a file of its own: config.ts reads the task (task.ts), which
 * throws it, and data.ts, which throws it too, takes its source type from config.ts.
 */

/** A data source that cannot be loaded (missing or malformed files): exit code 2. */
export class DataError extends Error {
  override readonly name = 'DataError';
}
