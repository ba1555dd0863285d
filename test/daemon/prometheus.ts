/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every
 * sample belongs to a family declared by one HELP and one TYPE line before it, names and
 * labels are well-formed, values are floats, series are unique, counters end in _total,
 * summaries only carry quantile series, _sum and _count, histograms only _bucket (with
 * `le`, cumulative, the +Inf bucket equal to _count), _sum and _count. Empty lines are
 * ignored, as the format says (prom-client separates families with one). Throws naming the line.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help: string | undefined;
  type: string | undefined;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'summary', 'histogram', 'untyped'];

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1} "${line}"`;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) throw new Error(`${where}: comment is not HELP or TYPE`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let family = families.get(name);
      if (!family) {
        family = { name, help: undefined, type: undefined, samples: [] };
        families.set(name, family);
      }
      if (family.samples.length > 0) throw new Error(`${where}: ${kind} after samples`);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`${where}: second HELP`);
        family.help = rest;
      } else {
        if (family.type !== undefined) throw new Error(`${where}: second TYPE`);
        if (!TYPES.includes(rest)) throw new Error(`${where}: unknown type`);
        family.type = rest;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const labels = parseLabels(labelText, where);
    const value = parseValue(valueText, where);
    const family = familyOf(families, name);
    if (!family || family.type === undefined || family.help === undefined) {
      throw new Error(`${where}: sample before its HELP and TYPE`);
    }
    if (family.type === 'counter' && !family.name.endsWith('_total'))
      throw new Error(`${where}: counter not named *_total`);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`${where}: negative or NaN counter`);
    if (family.type === 'summary') {
      const suffix = name.slice(family.name.length);
      if (suffix === '' && labels.quantile === undefined) throw new Error(`${where}: summary sample without quantile`);
      if (!['', '_sum', '_count'].includes(suffix)) throw new Error(`${where}: bad summary series`);
    } else if (family.type === 'histogram') {
      const suffix = name.slice(family.name.length);
      if (suffix === '_bucket' && labels.le === undefined) throw new Error(`${where}: histogram bucket without le`);
      if (suffix !== '_bucket' && labels.le !== undefined) throw new Error(`${where}: le outside a bucket`);
      if (!['_bucket', '_sum', '_count'].includes(suffix)) throw new Error(`${where}: bad histogram series`);
    } else if (name !== family.name) {
      throw new Error(`${where}: sample name differs from its family`);
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate series`);
    seen.add(key);
    family.samples.push({ name, labels, value });
  }
  for (const f of families.values()) {
    if (f.help === undefined || f.type === undefined) throw new Error(`family ${f.name}: missing HELP or TYPE`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

/** Per label set: buckets cumulative in `le` order, ending at +Inf with the value of _count. */
function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count: number | undefined }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let one = series.get(key);
    if (one === undefined) {
      one = { buckets: [], count: undefined };
      series.set(key, one);
    }
    if (le !== undefined) one.buckets.push([parseValue(le, `${f.name} le`), s.value]);
    if (s.name === `${f.name}_count`) one.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    const where = `histogram ${f.name}${key}`;
    buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]?.[1] < buckets[i - 1]?.[1]) throw new Error(`${where}: buckets not cumulative`);
    }
    const last = buckets.at(-1);
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`);
    if (count === undefined || last[1] !== count) throw new Error(`${where}: +Inf bucket differs from _count`);
  }
}

function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  for (const suffix of ['_sum', '_count', '_bucket']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f?.type === 'histogram' || (f?.type === 'summary' && suffix !== '_bucket')) return f;
    }
  }
  return undefined;
}

function parseLabels(text: string | undefined, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === undefined) return labels;
  const body = text.slice(1, -1);
  const re = /([^=,\s]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  let at = 0;
  while (at < body.length) {
    re.lastIndex = at;
    const m = re.exec(body);
    if (!m) throw new Error(`${where}: bad labels`);
    const [, name, value] = m as unknown as [string, string, string];
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name ${name}`);
    if (name in labels) throw new Error(`${where}: duplicate label ${name}`);
    labels[name] = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    at = re.lastIndex;
  }
  return labels;
}

/** Floats as Prometheus reads them (Go's ParseFloat: NaN in any case; prom-client writes `Nan`). */
function parseValue(text: string, where: string): number {
  if (/^nan$/i.test(text)) return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value`);
  return Number(text);
}

/** The one sample of `name` with `labels` (throws if absent). */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = familyOf(families, name);
  const s = family?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (!s) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return s.value;
}
