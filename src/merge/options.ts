/**
 * Validated options for merge rules and attacks: each rule declares a spec (type, range,
 * default) once; `parseOptions` checks untrusted input (config files, CLI) against it and
 * fills defaults, so the rule's math never sees a bad value.
 */

export type OptionSpec =
  | {
      readonly kind: 'number';
      readonly default: number;
      readonly min?: number;
      readonly max?: number;
      /** Exclusive lower bound (value must be > min). */
      readonly minExclusive?: boolean;
      readonly integer?: boolean;
      readonly doc: string;
    }
  | {
      readonly kind: 'optional-number';
      readonly min?: number;
      readonly max?: number;
      readonly minExclusive?: boolean;
      readonly integer?: boolean;
      readonly doc: string;
    }
  | { readonly kind: 'choice'; readonly default: string; readonly values: readonly string[]; readonly doc: string };

export type OptionsSpec = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S extends { kind: 'number' }
  ? number
  : S extends { kind: 'optional-number' }
    ? number | undefined
    : S extends { kind: 'choice'; values: readonly (infer V)[] }
      ? V
      : never;

/** The parsed options of a spec: every key present (optional numbers may be undefined). */
export type Parsed<S extends OptionsSpec> = { readonly [K in keyof S]: ValueOf<S[K]> };

/** Raised for an unknown rule name or a bad option; the message says what is accepted. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}

function checkNumber(owner: string, key: string, spec: OptionSpec, value: unknown): number {
  if (spec.kind === 'choice') throw new Error('unreachable');
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new OptionError(`${owner}: option "${key}" must be a finite number, got ${JSON.stringify(value)}`);
  }
  if (spec.integer === true && !Number.isInteger(value)) {
    throw new OptionError(`${owner}: option "${key}" must be an integer, got ${value}`);
  }
  if (spec.min !== undefined && (spec.minExclusive === true ? value <= spec.min : value < spec.min)) {
    throw new OptionError(
      `${owner}: option "${key}" must be ${spec.minExclusive === true ? '>' : '>='} ${spec.min}, got ${value}`,
    );
  }
  if (spec.max !== undefined && value > spec.max) {
    throw new OptionError(`${owner}: option "${key}" must be <= ${spec.max}, got ${value}`);
  }
  return value;
}

/** Check `raw` against `spec` and fill defaults. Unknown keys, wrong types and out-of-range values throw. */
export function parseOptions<S extends OptionsSpec>(owner: string, spec: S, raw: unknown = {}): Parsed<S> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new OptionError(`${owner}: options must be an object, got ${JSON.stringify(raw)}`);
  }
  const given = raw as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(spec, key)) {
      const known = Object.keys(spec);
      throw new OptionError(
        `${owner}: unknown option "${key}" (known: ${known.length === 0 ? 'none' : known.join(', ')})`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    const value = given[key];
    switch (s.kind) {
      case 'number':
        out[key] = value === undefined ? s.default : checkNumber(owner, key, s, value);
        break;
      case 'optional-number':
        out[key] = value === undefined ? undefined : checkNumber(owner, key, s, value);
        break;
      case 'choice':
        if (value === undefined) out[key] = s.default;
        else if (typeof value === 'string' && s.values.includes(value)) out[key] = value;
        else {
          throw new OptionError(
            `${owner}: option "${key}" must be one of ${s.values.map((v) => `"${v}"`).join(', ')}, got ${JSON.stringify(value)}`,
          );
        }
        break;
      default: {
        const never: never = s;
        throw new Error(`unhandled option kind ${JSON.stringify(never)}`);
      }
    }
  }
  return out as Parsed<S>;
}

/** The entries of `values` whose keys are in `spec` (to hand one stage its own options). */
export function pick<S extends OptionsSpec>(spec: S, values: Record<string, unknown>): Partial<Parsed<S>> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(spec)) if (values[key] !== undefined) out[key] = values[key];
  return out as Partial<Parsed<S>>;
}
