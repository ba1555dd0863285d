/**
 * How meshfl reads untrusted settings (the daemon config, scenario files, the TaskSpec;
 * merge and attack options in ./options.ts): valibot schemas built from these pieces, so
 * every problem reads the same, `<key path>: <problem>, got <value>`, names the allowed
 * values or range, and the schemas export as JSON Schema (schemas/, `npm run schemas`).
 *
 * Values whose rules live in a domain parser (a model spec, a partition, a codec, a merge
 * strategy) are read by `parsedBy`: the parser decides, and `jsonShape` describes the value
 * to the JSON Schema only. Rules across keys (an index below a count, one key or the other)
 * stay in code after the schema, with `fail`-style errors in the same form.
 *
 * Browser-safe: valibot only.
 */
import * as v from 'valibot';

/** One problem at a key path ("dataset.shard.index", "strategies[1]"; "" = the whole input). */
export interface ConfigIssue {
  readonly key: string;
  readonly problem: string;
}

/** A value as a message shows it: JSON, cut at 80 characters; "nothing" when absent. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `key: problem`, or the bare problem for the whole input. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.key === '' ? issue.problem : `${issue.key}: ${issue.problem}`;
}

/** A message for a value that is not what `what` says: "must be <what>, got <value>". */
function expected(what: string) {
  return (issue: v.BaseIssue<unknown>): string =>
    issue.input === undefined ? 'missing (required)' : `must be ${what}, got ${show(issue.input)}`;
}

/** An integer in [min, max]. */
export function int(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const message = expected(`an integer in [${min}, ${max}]`);
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

/** A finite number in [min, max]. */
export function num(min: number, max: number) {
  const message = expected(`a number in [${min}, ${max}]`);
  return v.pipe(v.number(message), v.finite(message), v.minValue(min, message), v.maxValue(max, message));
}

/** One of `values`. */
export function choice<const T extends readonly string[]>(values: T) {
  return v.picklist(values, expected(`one of ${values.join(', ')}`));
}

/** A list of `item`s; `what` names them ("multiaddrs"). */
export function list<S extends v.GenericSchema>(item: S, what: string) {
  return v.array(item, expected(`a list of ${what}`));
}

/** A non-empty string; `what` says what it holds ("a file path"). */
export function text(what = 'a non-empty string') {
  const message = expected(what);
  return v.pipe(v.string(message), v.minLength(1, message));
}

/** Words a flag or an environment variable (or YAML's `on`) may give for a boolean. */
const TRUE_WORDS = ['on', 'true', '1', 'yes'] as const;
const FALSE_WORDS = ['off', 'false', '0', 'no'] as const;

/**
 * A boolean, string words like "on"/"off" (what env vars, flags and YAML 1.2 give) included.
 * `description` is for the JSON Schema (the schema export stops before the conversion).
 */
export function flag(description = '') {
  return v.pipe(
    v.union(
      [v.boolean(), v.picklist([...TRUE_WORDS, ...FALSE_WORDS])],
      expected('true/false (or on/off, yes/no, 1/0)'),
    ),
    v.description(description),
    v.transform((x): boolean => (typeof x === 'boolean' ? x : (TRUE_WORDS as readonly string[]).includes(x))),
  );
}

/** The boolean a flag's or variable's text means (case and spaces ignored), or undefined. */
export function flagWord(text: string): boolean | undefined {
  const s = text.trim().toLowerCase();
  if ((TRUE_WORDS as readonly string[]).includes(s)) return true;
  if ((FALSE_WORDS as readonly string[]).includes(s)) return false;
  return undefined;
}

/**
 * An object of exactly these keys: an unknown key (a typo) is an error naming the keys
 * allowed there, a missing required key says so. `what` describes the object.
 */
export function strict<const E extends v.ObjectEntries>(entries: E, what = 'an object of keys') {
  const allowed = Object.keys(entries).join(', ');
  return v.strictObject(entries, (issue) => {
    if (issue.expected === 'never') return `unknown key (allowed here: ${allowed})`;
    if (issue.path !== undefined && issue.input === undefined) return 'missing (required)';
    return `must be ${what}, got ${show(issue.input)}`;
  });
}

/** `schema` with a description for the JSON Schema (what an editor shows for the key). */
export function doc<S extends v.GenericSchema>(description: string, schema: S) {
  return v.pipe(schema, v.description(description));
}

/** A JSON Schema fragment (plain JSON) describing a value for editors. */
export type JsonShape = Readonly<Record<string, unknown>>;

/**
 * A value a domain parser reads (throwing an Error whose message names the problem): the
 * parser's result is the output, its error the issue at this key. `jsonShape` describes
 * the accepted input in the JSON Schema (the schema export stops before the parser).
 */
export function parsedBy<T>(parse: (value: unknown) => T, jsonShape: JsonShape = {}) {
  return v.pipe(v.unknown(), v.metadata(jsonShape), parseStep(parse));
}

/** The step of a pipe that hands the value read so far to a domain parser (see parsedBy). */
export function parseStep<I, T>(parse: (value: I) => T) {
  return v.rawTransform<I, T>(({ dataset, addIssue, NEVER }) => {
    try {
      return parse(dataset.value);
    } catch (err) {
      addIssue({ message: err instanceof Error ? err.message : String(err) });
      return NEVER;
    }
  });
}

/** A value another parser checks later (the TaskSpec's keys in the daemon config), described for the JSON Schema. */
export function described(jsonShape: JsonShape) {
  return v.pipe(v.unknown(), v.metadata(jsonShape));
}

/** A check on a value that `problem` explains (undefined = fine); not part of the JSON Schema. */
export function checkedBy<T>(problem: (value: T) => string | undefined) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const p = problem(dataset.value);
    if (p !== undefined) addIssue({ message: p });
  });
}

/** "a.b[0].c" from a valibot issue path. */
export function keyOf(issue: v.BaseIssue<unknown>): string {
  let key = '';
  for (const item of issue.path ?? []) {
    const k = (item as { key?: unknown }).key;
    if (typeof k === 'number') key += `[${k}]`;
    else key += key === '' ? String(k) : `.${String(k)}`;
  }
  return key;
}

/**
 * A domain parser's message at `key` as an issue. Parsers name what they read themselves,
 * by the last part of the key ("partition: ...") or deeper ("model.hidden must be ...");
 * the issue then names the full key path once.
 */
export function domainIssue(key: string, message: string): ConfigIssue {
  const last =
    key
      .replace(/\[\d+\]$/, '')
      .split('.')
      .at(-1) ?? key;
  let m = message;
  if (last !== key && last !== '' && m.startsWith(last) && /^[ :.[]/.test(m.slice(last.length))) {
    m = key + m.slice(last.length);
  }
  if (key === '') return { key, problem: m };
  if (m.startsWith(`${key}.`) || m.startsWith(`${key}[`)) {
    const named = /^(\S+?):? (.+)$/s.exec(m);
    if (named) return { key: named[1], problem: named[2] };
  }
  if (m.startsWith(`${key}:`)) return { key, problem: m.slice(key.length + 1).trimStart() };
  if (m.startsWith(`${key} `)) return { key, problem: m.slice(key.length + 1) };
  return { key, problem: m };
}

/** A valibot issue as a ConfigIssue (domain parsers' messages normalised by domainIssue). */
export function issueOf(issue: v.BaseIssue<unknown>): ConfigIssue {
  const key = keyOf(issue);
  if (issue.type === 'raw_transform' || issue.type === 'raw_check') return domainIssue(key, issue.message);
  return { key, problem: issue.message };
}

export type ReadResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issue: ConfigIssue };

/**
 * Reads `input` with `schema` and reports its first problem (one clear line beats a list).
 * Not valibot's abortEarly: under it a union only sees "no option fits" and cannot say
 * which key of the fitting option is wrong.
 */
export function read<S extends v.GenericSchema>(schema: S, input: unknown): ReadResult<v.InferOutput<S>> {
  const result = v.safeParse(schema, input);
  if (result.success) return { ok: true, value: result.output };
  const first = result.issues[0];
  return { ok: false, issue: first === undefined ? { key: '', problem: 'invalid' } : issueOf(first) };
}
