/**
 * A strict reader over untrusted config values: every accessor names the key path it
 * reads (and where an override came from), and unknown keys are refused, so a typo in a
 * config file is an error instead of a silently ignored setting.
 */

/** A bad config value; the daemon reports its message and exits with code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Where each overridden key path came from (e.g. "http.address" -> "--http"). */
export type OverrideSources = ReadonlyMap<string, string>;

export class ConfigReader {
  readonly path: string;
  readonly value: unknown;
  readonly #sources: OverrideSources;

  constructor(value: unknown, path = '', sources: OverrideSources = new Map()) {
    this.value = value;
    this.path = path;
    this.#sources = sources;
  }

  /** Throws a ConfigError naming this key (and its override source, if any). */
  fail(problem: string): never {
    const key = this.path === '' ? 'config' : this.path;
    const source = this.#sources.get(this.path);
    throw new ConfigError(`${key}${source ? ` (from ${source})` : ''}: ${problem}`);
  }

  get present(): boolean {
    return this.value !== undefined;
  }

  /** The child at `key` of an object value (undefined when absent). */
  at(key: string): ConfigReader {
    const record = this.object();
    return new ConfigReader(record[key], this.path === '' ? key : `${this.path}.${key}`, this.#sources);
  }

  object(): Record<string, unknown> {
    if (this.value === undefined) return {};
    if (typeof this.value !== 'object' || this.value === null || Array.isArray(this.value)) {
      this.fail(`must be an object, got ${show(this.value)}`);
    }
    return this.value as Record<string, unknown>;
  }

  /** Refuses keys other than `allowed`. */
  only(allowed: readonly string[]): this {
    for (const key of Object.keys(this.object())) {
      if (!allowed.includes(key)) {
        const where = this.path === '' ? '' : `${this.path}.`;
        throw new ConfigError(`${where}${key}: unknown key (allowed here: ${allowed.join(', ')})`);
      }
    }
    return this;
  }

  string(fallback?: string): string {
    if (this.value === undefined && fallback !== undefined) return fallback;
    if (typeof this.value !== 'string' || this.value.length === 0)
      this.fail(`must be a non-empty string, got ${show(this.value)}`);
    return this.value;
  }

  optionalString(): string | undefined {
    return this.value === undefined ? undefined : this.string();
  }

  choice<T extends string>(choices: readonly T[], fallback: T): T {
    const v = this.value === undefined ? fallback : this.value;
    if (typeof v !== 'string' || !choices.includes(v as T)) {
      this.fail(`must be one of ${choices.join(', ')}, got ${show(v)}`);
    }
    return v as T;
  }

  /** A number; strings from env vars and flags are converted. */
  number(fallback: number, min: number, max: number, integer = false): number {
    if (this.value === undefined) return fallback;
    const n = typeof this.value === 'string' && this.value.trim() !== '' ? Number(this.value) : this.value;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      this.fail(`must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${show(this.value)}`);
    }
    return n;
  }

  int(fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(fallback, min, max, true);
  }

  /** A boolean; "on/off", "true/false", "1/0", "yes/no" strings are accepted (env vars, flags). */
  boolean(fallback: boolean): boolean {
    const v = this.value;
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.trim().toLowerCase();
      if (['on', 'true', '1', 'yes'].includes(s)) return true;
      if (['off', 'false', '0', 'no'].includes(s)) return false;
    }
    return this.fail(`must be true/false (or on/off), got ${show(v)}`);
  }

  /** A list of non-empty strings; a comma-separated string is split (env vars, flags). */
  strings(fallback: readonly string[]): string[] {
    const v = this.value;
    if (v === undefined) return [...fallback];
    if (typeof v === 'string')
      return v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s.length > 0)) {
      this.fail(`must be a list of non-empty strings, got ${show(v)}`);
    }
    return [...(v as string[])];
  }

  /** Runs `parse` and rewraps its plain errors as a ConfigError naming this key. */
  parseWith<T>(parse: (value: unknown) => T): T {
    try {
      return parse(this.value);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      return this.fail(err instanceof Error ? err.message : String(err));
    }
  }
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
