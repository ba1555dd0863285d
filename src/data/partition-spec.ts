/**
 * How a data set is split across peers, as a value that can live in config files and
 * CLI flags. Parse untrusted input with parsePartitionSpec.
 */

/** How shards assign classes to peers: Bristle's consecutive classes, or a random set per peer. */
export type ShardLayout = 'consecutive' | 'random';

export type PartitionSpec =
  /** Every peer gets a uniformly random equal share. */
  | { readonly kind: 'iid' }
  /** Per class, the split across peers is drawn from Dirichlet(alpha): small alpha = skewed. */
  | { readonly kind: 'dirichlet'; readonly alpha: number; readonly minSamples?: number }
  /** Every peer holds exactly `classesPerPeer` classes (pathological non-iid). */
  | { readonly kind: 'shards'; readonly classesPerPeer: number; readonly layout?: ShardLayout };

export type PartitionKind = PartitionSpec['kind'];

const KINDS: readonly PartitionKind[] = ['iid', 'dirichlet', 'shards'];
const LAYOUTS: readonly ShardLayout[] = ['consecutive', 'random'];

/**
 * Accepts an object (`{kind: 'dirichlet', alpha: 0.5}`) or the short string forms
 * `iid`, `dirichlet:<alpha>[:<minSamples>]`, `shards:<classesPerPeer>[:consecutive|random]`.
 * Throws a TypeError naming `what` and the offending field.
 */
export function parsePartitionSpec(value: unknown, what = 'partition'): PartitionSpec {
  if (typeof value === 'string') return parsePartitionSpec(fromShortForm(value, what), what);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${what}: expected an object with a "kind" or a string like "dirichlet:0.5", got ${show(value)}`,
    );
  }
  const record = value as Record<string, unknown>;
  const kind = record['kind'];
  const allow = (fields: string[]): void => {
    for (const key of Object.keys(record)) {
      if (key !== 'kind' && !fields.includes(key)) {
        throw new TypeError(
          `${what}: unknown field "${key}" for kind "${String(kind)}" (allowed: ${fields.join(', ')})`,
        );
      }
    }
  };
  switch (kind) {
    case 'iid':
      allow([]);
      return { kind };
    case 'dirichlet': {
      allow(['alpha', 'minSamples']);
      const alpha = record['alpha'];
      if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) {
        throw new TypeError(`${what}: dirichlet alpha must be a finite number > 0, got ${show(alpha)}`);
      }
      const minSamples = record['minSamples'];
      if (minSamples === undefined) return { kind, alpha };
      if (typeof minSamples !== 'number' || !Number.isInteger(minSamples) || minSamples < 0) {
        throw new TypeError(`${what}: dirichlet minSamples must be an integer >= 0, got ${show(minSamples)}`);
      }
      return { kind, alpha, minSamples };
    }
    case 'shards': {
      allow(['classesPerPeer', 'layout']);
      const classesPerPeer = record['classesPerPeer'];
      if (typeof classesPerPeer !== 'number' || !Number.isInteger(classesPerPeer) || classesPerPeer < 1) {
        throw new TypeError(`${what}: shards classesPerPeer must be an integer >= 1, got ${show(classesPerPeer)}`);
      }
      const layout = record['layout'];
      if (layout === undefined) return { kind, classesPerPeer };
      if (!LAYOUTS.includes(layout as ShardLayout)) {
        throw new TypeError(`${what}: shards layout must be one of ${LAYOUTS.join(', ')}, got ${show(layout)}`);
      }
      return { kind, classesPerPeer, layout: layout as ShardLayout };
    }
    default:
      throw new TypeError(`${what}: unknown kind ${show(kind)} (expected one of ${KINDS.join(', ')})`);
  }
}

/** Short form for humans; the inverse of fromShortForm. */
export function formatPartitionSpec(spec: PartitionSpec): string {
  switch (spec.kind) {
    case 'iid':
      return 'iid';
    case 'dirichlet':
      return spec.minSamples === undefined ? `dirichlet:${spec.alpha}` : `dirichlet:${spec.alpha}:${spec.minSamples}`;
    case 'shards':
      return spec.layout === undefined
        ? `shards:${spec.classesPerPeer}`
        : `shards:${spec.classesPerPeer}:${spec.layout}`;
    default: {
      const unreachable: never = spec;
      throw new TypeError(`unknown partition spec ${show(unreachable)}`);
    }
  }
}

function fromShortForm(text: string, what: string): Record<string, unknown> {
  const [kind = '', ...args] = text.trim().split(':');
  const number = (arg: string | undefined, name: string): number | undefined => {
    if (arg === undefined) return undefined;
    const n = Number(arg);
    if (arg.trim() === '' || Number.isNaN(n))
      throw new TypeError(`${what}: ${name} "${arg}" in "${text}" is not a number`);
    return n;
  };
  const maxArgs = kind === 'iid' ? 0 : 2;
  if (args.length > maxArgs) throw new TypeError(`${what}: too many ":" parts in "${text}"`);
  if (kind === 'dirichlet') {
    const spec: Record<string, unknown> = { kind, alpha: number(args[0], 'alpha') };
    if (args[1] !== undefined) spec['minSamples'] = number(args[1], 'minSamples');
    return spec;
  }
  if (kind === 'shards') {
    const spec: Record<string, unknown> = { kind, classesPerPeer: number(args[0], 'classesPerPeer') };
    if (args[1] !== undefined) spec['layout'] = args[1];
    return spec;
  }
  return { kind };
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
