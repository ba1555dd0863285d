/** A bad config value: the daemon reports its message and exits with code 2. */
import { type ConfigIssue, formatIssue, isRecord } from '../../src/config/read.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Where each overridden key path came from (e.g. "http.address" -> "--http"). */
export type OverrideSources = ReadonlyMap<string, string>;

/** The source of `key` or of the nearest enclosing key ("listen[1]" -> "listen"). */
function sourceOf(key: string, sources: OverrideSources): string | undefined {
  for (let k = key; k !== ''; k = k.replace(/(?:\.[^.[]*|\[\d+\])$/, '')) {
    const source = sources.get(k);
    if (source !== undefined) return source;
    if (!/[.[]/.test(k)) break;
  }
  return undefined;
}

/** A ConfigError for `issue`: "key (from --flag): problem"; the whole config is "config". */
export function configError(issue: ConfigIssue, sources: OverrideSources = new Map()): ConfigError {
  const key = issue.key === '' ? 'config' : issue.key;
  const source = sourceOf(issue.key, sources);
  return new ConfigError(formatIssue({ key: source ? `${key} (from ${source})` : key, problem: issue.problem }));
}

/** The raw config by key path, for the checks across keys that follow the schema. */
export interface ConfigKeys {
  /** The key is set (in the file, an env var or a flag). */
  present(key: string): boolean;
  /** The raw value at a dotted key path (undefined when absent). */
  value(key: string): unknown;
  /** Throws the ConfigError for `problem` at `key`, naming where the value came from. */
  fail(key: string, problem: string): never;
}

export function configKeys(raw: unknown, sources: OverrideSources = new Map()): ConfigKeys {
  const value = (key: string): unknown =>
    key.split('.').reduce<unknown>((at, part) => (isRecord(at) ? at[part] : undefined), raw);
  return {
    present: (key) => value(key) !== undefined,
    value,
    fail: (key, problem) => {
      throw configError({ key, problem }, sources);
    },
  };
}
