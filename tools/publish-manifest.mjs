#!/usr/bin/env node
// `npm pack` / `npm publish` hooks: `add` (prepack) writes `engines` into package.json,
// `remove` (postpack) takes it out again. The published package declares that it needs
// Node 22 (npm warns a consumer on an older Node). The repo's package.json does not: in a
// clone, npm itself may run on an older system Node while everything meshfl runs on the
// bundled Node 22 (tools/node22), and an `engines` field there makes npm print an
// EBADENGINE block on the first `npx meshfl` of every clone (npx installs the project into
// its cache, and only a root package can opt out of the check). Plain JavaScript: this
// runs on whatever Node npm runs on.
import { readFileSync, writeFileSync } from 'node:fs';

const ENGINES = { node: '>=22' };
const file = new URL('../package.json', import.meta.url);
const mode = process.argv[2];
if (mode !== 'add' && mode !== 'remove') {
  console.error('usage: node tools/publish-manifest.mjs add|remove');
  process.exit(2);
}
const text = readFileSync(file, 'utf8');
const manifest = JSON.parse(text);
if (mode === 'add') {
  // Put engines right after "license", where it stood before, so the packed file reads naturally.
  const out = {};
  for (const [key, value] of Object.entries(manifest)) {
    if (key === 'engines') continue;
    out[key] = value;
    if (key === 'license') out.engines = ENGINES;
  }
  if (!('engines' in out)) out.engines = ENGINES;
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
} else if ('engines' in manifest) {
  delete manifest.engines;
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}
