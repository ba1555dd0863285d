/**
 * The JSON Schema files in schemas/, generated from the valibot schemas that read the same
 * files (node/daemon/config.ts CONFIG_SCHEMA, simulations/scenario.ts SCENARIO_SCHEMA), so
 * an editor completes and checks a daemon config or a scenario as the daemon and
 * `meshfl simulate` will. `npm run schemas` rewrites them; test/config/json-schema.test.ts
 * fails while a committed file differs from what this generates.
 *
 * The schemas describe each key's type, range, allowed values and default. Checks across
 * keys (a shard index below its count, a token for a public address, a strategy's options)
 * are the parsers' alone: a file the schema accepts can still be refused, with a message
 * naming the key.
 *
 * A development tool: not part of the `meshfl` command (cli/cli.ts does not import it), and
 * its converter, @valibot/to-json-schema, is a devDependency.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { toJsonSchema } from '@valibot/to-json-schema';
import type { GenericSchema } from 'valibot';
import { CONFIG_SCHEMA } from '../node/daemon/config.ts';
import { SCENARIO_SCHEMA } from '../simulations/scenario.ts';

export const ROOT = path.join(import.meta.dirname, '..');

export interface SchemaFile {
  /** Path from the repository root. */
  readonly file: string;
  readonly title: string;
  readonly description: string;
  readonly schema: GenericSchema;
}

export const SCHEMA_FILES: readonly SchemaFile[] = [
  {
    file: 'schemas/daemon-config.schema.json',
    title: 'meshfl daemon config',
    description:
      'The config file of `meshfl daemon --config` (JSON or YAML). Every key and its default: docs/DAEMON.md. Generated from node/daemon/config.ts by `npm run schemas`.',
    schema: CONFIG_SCHEMA,
  },
  {
    file: 'schemas/scenario.schema.json',
    title: 'meshfl scenario',
    description:
      'A scenario of `meshfl simulate --scenario` (JSON or YAML). Every key: docs/SIMULATIONS.md. Generated from simulations/scenario.ts by `npm run schemas`.',
    schema: SCENARIO_SCHEMA,
  },
];

/** The text of one schema file: draft-07 (what editors and yaml-language-server read), 2-space JSON. */
export function schemaText(entry: SchemaFile): string {
  const json = toJsonSchema(entry.schema, {
    target: 'draft-07',
    // Stop each pipe before its parser step: the schema describes the input.
    typeMode: 'input',
    // Checks written in code (host:port, norm factors) have no JSON Schema form, and a
    // JSON number is always finite.
    ignoreActions: ['raw_check', 'finite'],
    errorMode: 'throw',
  });
  const { $schema, ...rest } = json;
  return `${JSON.stringify({ $schema, title: entry.title, description: entry.description, ...rest }, null, 2)}\n`;
}

if (import.meta.main) {
  for (const entry of SCHEMA_FILES) {
    writeFileSync(path.join(ROOT, entry.file), schemaText(entry));
    console.log(`wrote ${entry.file}`);
  }
}
