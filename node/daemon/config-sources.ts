/**
 * Where the daemon's raw config comes from: a JSON or YAML file, then MESHFL_* environment
 * variables, then command-line flags. Overrides are applied to the raw object before
 * validation, so one validator checks everything and errors name the flag or variable.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { flagWord } from '../../src/config/read.ts';
import { ConfigError } from './config-error.ts';

/**
 * What a flag's or variable's text becomes before the config schema reads it: a number,
 * a boolean (on/off, true/false, yes/no, 1/0) or a comma-separated list. Text that does
 * not convert is left as it is, so the error shows what was given.
 */
export type OverrideType = 'text' | 'number' | 'boolean' | 'list';

/** One overridable key: its path in the config, its flag and its environment variable. */
export interface OverrideKey {
  readonly path: readonly string[];
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly type?: OverrideType;
}

export const OVERRIDES: readonly OverrideKey[] = [
  { path: ['dataDir'], flag: 'data-dir', env: 'MESHFL_DATA_DIR', help: 'data directory (identity, checkpoints)' },
  { path: ['taskId'], flag: 'task', env: 'MESHFL_TASK_ID', help: 'task id (peers of one task train together)' },
  {
    path: ['join'],
    flag: 'join',
    env: 'MESHFL_JOIN',
    help: "a peer's multiaddr (/p2p/...): dialed; without a model section its task is this daemon's",
  },
  {
    path: ['dataset', 'shard', 'index'],
    flag: 'shard-index',
    env: 'MESHFL_SHARD_INDEX',
    help: "this peer's data shard, 0 <= i < dataset.shard.of",
    type: 'number',
  },
  { path: ['http', 'address'], flag: 'http', env: 'MESHFL_HTTP', help: 'HTTP host:port (default 127.0.0.1:9464)' },
  {
    path: ['http', 'token'],
    flag: 'http-token',
    env: 'MESHFL_HTTP_TOKEN',
    help: 'HTTP bearer token (prefer the env var)',
  },
  {
    path: ['listen'],
    flag: 'listen',
    env: 'MESHFL_LISTEN',
    help: 'libp2p listen multiaddrs, comma-separated',
    type: 'list',
  },
  {
    path: ['announce'],
    flag: 'announce',
    env: 'MESHFL_ANNOUNCE',
    help: 'multiaddrs advertised to browsers, comma-separated',
    type: 'list',
  },
  {
    path: ['bootstrap'],
    flag: 'bootstrap',
    env: 'MESHFL_BOOTSTRAP',
    help: 'bootstrap peer multiaddrs, comma-separated',
    type: 'list',
  },
  { path: ['mdns'], flag: 'mdns', env: 'MESHFL_MDNS', help: 'mDNS discovery on|off', type: 'boolean' },
  {
    path: ['relay'],
    flag: 'relay',
    env: 'MESHFL_RELAY',
    help: 'relay + WebSockets + WebRTC-Direct for browsers on|off',
    type: 'boolean',
  },
  { path: ['strategy'], flag: 'strategy', env: 'MESHFL_STRATEGY', help: 'merge strategy name' },
  { path: ['codec'], flag: 'codec', env: 'MESHFL_CODEC', help: 'update codec, e.g. int8 or topk:0.1+int8' },
  { path: ['resources', 'backend'], flag: 'backend', env: 'MESHFL_BACKEND', help: 'wasm | cpu | auto' },
  {
    path: ['resources', 'batchSize'],
    flag: 'batch-size',
    env: 'MESHFL_BATCH_SIZE',
    help: 'mini-batch size',
    type: 'number',
  },
  {
    path: ['resources', 'threads'],
    flag: 'threads',
    env: 'MESHFL_THREADS',
    help: 'threads training the model (default: 1, no worker thread)',
    type: 'number',
  },
  {
    path: ['resources', 'syncEvery'],
    flag: 'sync-every',
    env: 'MESHFL_SYNC_EVERY',
    help: 'with threads > 1: steps between synchronisations (1 = gradients every step; k >= 2 = local SGD)',
    type: 'number',
  },
  { path: ['logLevel'], flag: 'log-level', env: 'MESHFL_LOG_LEVEL', help: 'debug | info | warn | error' },
];

/** Reads a config file: `.yaml`/`.yml` as YAML, anything else as JSON. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const yaml = /\.ya?ml$/i.test(file);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid ${yaml ? 'YAML' : 'JSON'} (${(err as Error).message.split('\n')[0]})`);
  }
}

export interface Overridden {
  readonly raw: Record<string, unknown>;
  /** Key path -> "--flag" or "MESHFL_VAR", for error messages. */
  readonly sources: Map<string, string>;
}

/** Applies env vars, then flags (later wins), to a copy of the raw file config. */
export function applyOverrides(
  file: unknown,
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, unknown>>,
): Overridden {
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) {
    throw new ConfigError(
      `config: the file must hold an object of keys, got ${Array.isArray(file) ? 'a list' : typeof file}`,
    );
  }
  const raw = structuredClone((file ?? {}) as Record<string, unknown>);
  const sources = new Map<string, string>();
  for (const key of OVERRIDES) {
    const fromEnv = env[key.env];
    const fromFlag = flags[key.flag];
    const value =
      typeof fromFlag === 'string' ? fromFlag : fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
    if (value === undefined) continue;
    setPath(raw, key.path, converted(value, key.type ?? 'text'));
    sources.set(key.path.join('.'), typeof fromFlag === 'string' ? `--${key.flag}` : key.env);
  }
  return { raw, sources };
}

function converted(text: string, type: OverrideType): unknown {
  switch (type) {
    case 'text':
      return text;
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? n : text;
    }
    case 'boolean':
      return flagWord(text) ?? text;
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    default: {
      const never: never = type;
      throw new Error(`unhandled override type ${String(never)}`);
    }
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let at = target;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      at[key] = value;
      return;
    }
    const next = at[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      if (next !== undefined) throw new ConfigError(`${path.slice(0, i + 1).join('.')}: must be an object`);
      at[key] = {};
    }
    at = at[key] as Record<string, unknown>;
  }
}
