/**
 * Layers that point down only (docs/ARCHITECTURE.md, "Layout and dependency direction"):
 * cli/ -> simulations/ -> node/ -> src/, with browser/ beside node/ (it imports src/ only).
 * A module imports its own floor or lower, never up and never sideways, and no file imports
 * itself through a cycle. The rules and the parser are in ./import-graph.ts; the fixture
 * tree under ./fixtures/layers/ breaks each rule once, so the check is shown to fail.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import {
  fileCycles,
  formatEdge,
  importEdges,
  importSpecifiers,
  layerViolations,
  nodeOnlyImportsInCore,
} from './import-graph.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'layers');

/**
 * Violations the tree still has, as `from -> to`. Each entry is a debt with its way out;
 * the list only ever shrinks, and a fixed entry left here fails the test too.
 */
const ALLOWED: readonly string[] = [];

/** Cycles the tree still has, each as its sorted files joined by ' '. Only ever shrinks. */
const ALLOWED_CYCLES: readonly string[] = [];

test('no module imports a module on a higher floor or in a side area', () => {
  const found = layerViolations(importEdges(ROOT)).map((v) => ({
    key: `${v.edge.from} -> ${v.edge.to}`,
    text: `${formatEdge(v.edge)}: ${v.why}`,
  }));
  const unexpected = found.filter((v) => !ALLOWED.includes(v.key)).map((v) => v.text);
  assert.deepEqual(unexpected, [], 'imports that run up a floor or into a side area');
  const stale = ALLOWED.filter((key) => !found.some((v) => v.key === key));
  assert.deepEqual(stale, [], 'allow-list entries that no longer occur: remove them');
});

test('no file cycle', () => {
  const found = fileCycles(importEdges(ROOT));
  const keys = found.map((cycle) => [...new Set(cycle)].sort().join(' '));
  const unexpected = found.filter((_, i) => !ALLOWED_CYCLES.includes(keys[i])).map((c) => c.join(' -> '));
  assert.deepEqual(unexpected, [], 'file cycles');
  const stale = ALLOWED_CYCLES.filter((key) => !keys.includes(key));
  assert.deepEqual(stale, [], 'allow-list cycles that no longer occur: remove them');
});

test('src/ imports no Node-only module statically, except files the browser field swaps out', () => {
  assert.deepEqual(nodeOnlyImportsInCore(ROOT).map(formatEdge), []);
});

test('the check fails on a tree that breaks the rules', () => {
  const edges = importEdges(FIXTURE);
  const violations = layerViolations(edges).map((v) => `${formatEdge(v.edge)}: ${v.why}`);
  assert.deepEqual(violations, [
    'browser/page.ts:1 -> node/host.ts: browser/ may import browser/, src/ only',
    'lib/stray.ts:1 -> src/core.ts: lib/stray.ts stands on no floor (add its folder to MAY_IMPORT)',
    'node/host.ts:4 -> simulations/run.ts: node/ may import node/, src/ only',
    'node/host.ts:6 -> cli/main.ts: node/ may import node/, src/ only',
    'simulations/run.ts:1 -> cli/main.ts: simulations/ may import simulations/, node/, browser/, src/ only',
    'src/core.ts:4 -> node/host.ts: src/ may import src/ only',
  ]);
  assert.deepEqual(fileCycles(edges), [['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/a.ts']]);
  assert.deepEqual(nodeOnlyImportsInCore(FIXTURE).map(formatEdge), [
    'src/tcp.ts:1 -> node:fs',
    'src/tcp.ts:2 -> @libp2p/tcp',
  ]);
});

test('the parser reads every import form and skips comments and packages', () => {
  const text = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {',
    '  c,',
    '  type D,',
    "} from './c.ts';",
    "import * as e from './e.ts';",
    "export { f } from './f.ts';",
    "export * from './g.ts';",
    "import './h.ts';",
    "const i = await import('./i.ts');",
    "const worker = new URL('./worker.ts', import.meta.url);",
    "import { j } from 'some-package';",
    "// import { k } from './k.ts';",
    "/* export * from './l.ts'; */",
    "const m = '// not a comment'; import { n } from './n.ts';",
  ].join('\n');
  assert.deepEqual(
    importSpecifiers(text).map((s) => `${s.line}:${s.specifier}`),
    [
      '1:./a.ts',
      '2:../b.ts',
      '6:./c.ts',
      '7:./e.ts',
      '8:./f.ts',
      '9:./g.ts',
      '10:./h.ts',
      '11:./i.ts',
      '12:./worker.ts',
      '16:./n.ts',
    ],
  );
});
