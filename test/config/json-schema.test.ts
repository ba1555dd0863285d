/**
 * The JSON Schema files in schemas/ (issue 19): generated from the valibot schemas that
 * read daemon configs and scenarios, committed up to date, referenced from the shipped
 * example config and every scenario, and accepting exactly those files. A typo is refused
 * by the schema (an editor flags it) and by the parser, with the parser's message.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ROOT, SCHEMA_FILES, schemaText } from '../../cli/json-schemas.ts';
import { parseDaemonConfig } from '../../node/daemon/config.ts';
import { ConfigError } from '../../node/daemon/config-error.ts';
import { parseScenario, ScenarioError } from '../../simulations/scenario.ts';

const CONFIG_SCHEMA_FILE = path.join(ROOT, 'schemas', 'daemon-config.schema.json');
const SCENARIO_SCHEMA_FILE = path.join(ROOT, 'schemas', 'scenario.schema.json');
const EXAMPLE_CONFIG = path.join(ROOT, 'node', 'daemon', 'example-config.yaml');
const DEFAULT_CONFIG = path.join(ROOT, 'node', 'daemon', 'default-config.json');
const SCENARIOS = path.join(ROOT, 'simulations', 'scenarios');

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

function validator(schemaFile: string) {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(readJson(schemaFile) as object);
  return (data: unknown): string[] =>
    validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

function scenarioFiles(): string[] {
  return (readdirSync(SCENARIOS, { recursive: true }) as string[])
    .filter((f) => /\.(json|ya?ml)$/.test(f))
    .map((f) => path.join(SCENARIOS, f))
    .sort();
}

function loadFile(file: string): unknown {
  return file.endsWith('.json') ? readJson(file) : parseYaml(readFileSync(file, 'utf8'));
}

test('the committed schema files are what `npm run schemas` generates', () => {
  for (const entry of SCHEMA_FILES) {
    const committed = readFileSync(path.join(ROOT, entry.file), 'utf8');
    assert.equal(committed, schemaText(entry), `${entry.file} is stale: run npm run schemas`);
  }
});

test('the package ships the schema files', () => {
  const manifest = readJson(path.join(ROOT, 'package.json')) as { files: string[] };
  assert.ok(manifest.files.includes('schemas'), 'package.json files lists schemas');
});

test('the example and default configs reference the schema and validate against it', () => {
  const valid = validator(CONFIG_SCHEMA_FILE);
  const comment = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(EXAMPLE_CONFIG, 'utf8'));
  assert.ok(comment, 'example-config.yaml names its schema for yaml-language-server');
  assert.equal(path.resolve(path.dirname(EXAMPLE_CONFIG), comment[1]), CONFIG_SCHEMA_FILE);
  const example = loadFile(EXAMPLE_CONFIG);
  assert.deepEqual(valid(example), [], 'example-config.yaml');
  parseDaemonConfig(example);
  const defaults = loadFile(DEFAULT_CONFIG) as { $schema?: string };
  assert.equal(path.resolve(path.dirname(DEFAULT_CONFIG), defaults.$schema ?? ''), CONFIG_SCHEMA_FILE);
  assert.deepEqual(valid(defaults), [], 'default-config.json');
  parseDaemonConfig(defaults);
  assert.deepEqual(valid({}), [], 'an empty config is valid: every key has a default');
});

test('every scenario under simulations/scenarios references the schema and validates against it', () => {
  const valid = validator(SCENARIO_SCHEMA_FILE);
  const files = scenarioFiles();
  assert.ok(files.length >= 20, `${files.length} scenario files`);
  for (const file of files) {
    const scenario = loadFile(file) as { $schema?: string };
    const name = path.relative(ROOT, file);
    assert.equal(path.resolve(path.dirname(file), scenario.$schema ?? ''), SCENARIO_SCHEMA_FILE, `${name}: $schema`);
    assert.deepEqual(valid(scenario), [], name);
    parseScenario(scenario); // and the parser takes it, $schema included
  }
});

test('an unknown key fails the schema and gets the parser message naming it and the allowed keys', () => {
  const config = validator(CONFIG_SCHEMA_FILE);
  const example = loadFile(EXAMPLE_CONFIG) as Record<string, Record<string, unknown>>;
  const typo = { ...example, round: { ...example.round, localStep: 5 } };
  assert.match(config(typo).join('\n'), /^\/round must NOT have additional properties$/m);
  assert.throws(
    () => parseDaemonConfig(typo),
    (err: unknown) =>
      err instanceof ConfigError &&
      /^round\.localStep: unknown key \(allowed here: localSteps, localEpochs, /.test(err.message),
  );

  const scenario = validator(SCENARIO_SCHEMA_FILE);
  const file = scenarioFiles()[0];
  const bad = { ...(loadFile(file) as object), roundz: 3 };
  assert.match(scenario(bad).join('\n'), /^\/ must NOT have additional properties$/m);
  assert.throws(
    () => parseScenario(bad),
    (err: unknown) =>
      err instanceof ScenarioError && /^roundz: unknown key \(allowed here: .*, rounds,/.test(err.message),
  );
});

test('a value out of range fails the schema and the parser alike', () => {
  const config = validator(CONFIG_SCHEMA_FILE);
  const bad = { resources: { backend: 'gpu' }, checkpoints: { keep: 0 }, mdns: 'maybe' };
  const errors = config(bad).join('\n');
  for (const pointer of ['/resources/backend', '/checkpoints/keep', '/mdns']) {
    assert.match(errors, new RegExp(`^${pointer} `, 'm'), pointer);
  }
  assert.throws(() => parseDaemonConfig({ resources: { backend: 'gpu' } }), /must be one of wasm, cpu, auto/);
  // CORS origins: exact origins only, in the schema (a pattern) and the parser.
  for (const origin of ['*', 'https://example.org/', 'file:///page.html']) {
    const http = { exportOrigins: [origin] };
    assert.match(config({ http }).join('\n'), /^\/http\/exportOrigins\/0 must match pattern/m, origin);
    assert.throws(() => parseDaemonConfig({ http }), /^ConfigError: http\.exportOrigins\[0\]: must be an/, origin);
  }
  const origins = { http: { exportOrigins: ['https://example.org', 'http://localhost:5173'] } };
  assert.deepEqual(config(origins), []);
  assert.deepEqual(parseDaemonConfig(origins).http.exportOrigins, origins.http.exportOrigins);
  const scenario = validator(SCENARIO_SCHEMA_FILE);
  const base = loadFile(scenarioFiles()[0]) as object;
  assert.match(scenario({ ...base, peers: 1 }).join('\n'), /^\/peers must be >= 2$/m);
  assert.throws(
    () => parseScenario({ ...base, peers: 1 }),
    /^ScenarioError: peers: must be an integer in \[2, 10000\], got 1$/,
  );
});
