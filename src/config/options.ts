/**
 * Validated options for merge rules and attacks: each rule declares a spec (type, range,
 * default) once as data; `parseOptions` checks untrusted input (config files, CLI) against
 * the valibot schema built from it (`optionsSchema`) and fills defaults, so the rule's math
 * never sees a bad value.
 */
import * as v from 'valibot';

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

type NumberSpec = Exclude<OptionSpec, { kind: 'choice' }>;

/** One number option as a valibot schema; each message names the owner, the option and the bound. */
function numberSchema(owner: string, key: string, spec: NumberSpec): v.GenericSchema<number> {
  const name = `${owner}: option "${key}"`;
  const finite = (i: v.BaseIssue<unknown>) => `${name} must be a finite number, got ${JSON.stringify(i.input)}`;
  let schema: v.GenericSchema<number> = v.pipe(v.number(finite), v.finite(finite));
  if (spec.integer === true)
    schema = v.pipe(
      schema,
      v.integer((i) => `${name} must be an integer, got ${i.input}`),
    );
  const { min, max } = spec;
  if (min !== undefined) {
    schema =
      spec.minExclusive === true
        ? v.pipe(
            schema,
            v.gtValue(min, (i) => `${name} must be > ${min}, got ${i.input}`),
          )
        : v.pipe(
            schema,
            v.minValue(min, (i) => `${name} must be >= ${min}, got ${i.input}`),
          );
  }
  if (max !== undefined)
    schema = v.pipe(
      schema,
      v.maxValue(max, (i) => `${name} must be <= ${max}, got ${i.input}`),
    );
  return schema;
}

function optionSchema(owner: string, key: string, spec: OptionSpec): v.GenericSchema {
  switch (spec.kind) {
    case 'number':
      return v.optional(numberSchema(owner, key, spec), spec.default);
    case 'optional-number':
      return v.optional(numberSchema(owner, key, spec));
    case 'choice':
      return v.optional(
        v.picklist(
          spec.values,
          (i) =>
            `${owner}: option "${key}" must be one of ${spec.values.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(i.input)}`,
        ),
        spec.default,
      );
    default: {
      const never: never = spec;
      throw new Error(`unhandled option kind ${JSON.stringify(never)}`);
    }
  }
}

const SCHEMAS = new WeakMap<OptionsSpec, Map<string, v.GenericSchema>>();

/**
 * The valibot schema of `spec`'s options (owner names the rule in messages): an object of
 * exactly these keys, each with its type, range and default. Built once per spec and owner.
 */
export function optionsSchema(owner: string, spec: OptionsSpec): v.GenericSchema {
  let byOwner = SCHEMAS.get(spec);
  if (byOwner === undefined) SCHEMAS.set(spec, (byOwner = new Map()));
  let schema = byOwner.get(owner);
  if (schema === undefined) {
    const known = Object.keys(spec);
    const entries = Object.fromEntries(Object.entries(spec).map(([key, s]) => [key, optionSchema(owner, key, s)]));
    schema = v.strictObject(entries, (i) =>
      i.expected === 'never'
        ? `${owner}: unknown option "${String(i.input)}" (known: ${known.length === 0 ? 'none' : known.join(', ')})`
        : `${owner}: options must be an object, got ${JSON.stringify(i.input)}`,
    );
    byOwner.set(owner, schema);
  }
  return schema;
}

/** Check `raw` against `spec` and fill defaults. Unknown keys, wrong types and out-of-range values throw. */
export function parseOptions<S extends OptionsSpec>(owner: string, spec: S, raw: unknown = {}): Parsed<S> {
  // valibot takes an array for an object of keys "0", "1", ...
  if (Array.isArray(raw)) throw new OptionError(`${owner}: options must be an object, got ${JSON.stringify(raw)}`);
  const result = v.safeParse(optionsSchema(owner, spec), raw);
  if (!result.success) throw new OptionError(result.issues[0]?.message ?? `${owner}: invalid options`);
  // Every key of the spec is present, optional numbers that were not given as undefined.
  const output = result.output as Record<string, unknown>;
  return Object.fromEntries(Object.keys(spec).map((key) => [key, output[key]])) as Parsed<S>;
}

/** The entries of `values` whose keys are in `spec` (to hand one stage its own options). */
export function pick<S extends OptionsSpec>(spec: S, values: Record<string, unknown>): Partial<Parsed<S>> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(spec)) if (values[key] !== undefined) out[key] = values[key];
  return out as Partial<Parsed<S>>;
}
