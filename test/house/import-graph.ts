/**
 * The repository's import graph and the floors its modules live on, for test/house/layers.test.ts.
 *
 * Floors, top to bottom (docs/ARCHITECTURE.md, "Layout and dependency direction"):
 *   cli/          the `meshfl` commands and their plumbing (flags, progress, exit codes)
 *   simulations/  scenarios, the runner (async and lockstep), shards, benches
 *   node/         the Node host library (datasets, model files, train pool, daemon service, TCP node)
 *   browser/      the web page, on node/'s floor beside it: it may import src/ only
 *   src/          the core, which runs unchanged in Node and in browsers
 * A module may import a module of its own area or of an area on a lower floor, nothing else
 * (so simulations/ may use browser/'s build, and node/ and browser/ never import each other).
 * Tests and examples/ stand outside the house and may import anything.
 *
 * The parser is deliberately small: it removes comments, then reads static `import`/`export
 * ... from '...'`, side-effect `import '...'`, dynamic `import('...')` with a literal
 * specifier and `new URL('...', import.meta.url)` (how worker files are named). Only
 * relative specifiers are edges; packages are not part of the house.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Each area and the areas it may import (its own included). */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  cli: ['cli', 'simulations', 'node', 'browser', 'src'],
  simulations: ['simulations', 'node', 'browser', 'src'],
  node: ['node', 'src'],
  browser: ['browser', 'src'],
  src: ['src'],
};

/** Top-level folders whose files may import anything (they are not part of the house). */
export const EXEMPT_IMPORTERS: readonly string[] = ['test', 'examples', 'tools'];

const SOURCE = /\.(?:ts|js|mjs)$/;
/** Folders that hold no source of the house: dependencies, build and run output, and test fixtures. */
const SKIP_DIRS = new Set(['node_modules', 'dist', 'out', 'test-output']);
const SKIP_PATHS = new Set(['simulations/results']);

export interface Edge {
  /** Importing file, relative to the root, with forward slashes. */
  readonly from: string;
  /** Imported file, relative to the root. */
  readonly to: string;
  readonly line: number;
}

/** Source files under root (skipping dependencies, build and run output, and fixtures under test/). */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        const rel = toPosix(path.relative(root, path.join(dir, entry.name)));
        const skip =
          SKIP_DIRS.has(entry.name) ||
          entry.name.startsWith('.') ||
          SKIP_PATHS.has(rel) ||
          (rel.startsWith('test/') && entry.name === 'fixtures');
        if (!skip) walk(path.join(dir, entry.name));
      } else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        out.push(toPosix(path.relative(root, path.join(dir, entry.name))));
      }
    }
  };
  walk(root);
  return out.sort();
}

/** Replaces comments by spaces (keeping newlines, so line numbers hold) and leaves strings alone. */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const PATTERNS: readonly RegExp[] = [
  // import x from '...'; import { a, b } from '...'; export * from '...'; export { a } from '...'
  /\b(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*(['"])([^'"]+)\1/g,
  // import '...'
  /\bimport\s*(['"])([^'"]+)\1/g,
  // import('...')
  /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  // new URL('./worker.ts', import.meta.url)
  /\bnew\s+URL\s*\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g,
];

/** The relative specifiers a file's text imports, with their 1-based line numbers. */
export function importSpecifiers(text: string): { specifier: string; line: number }[] {
  const code = stripComments(text);
  const found: { specifier: string; line: number; at: number }[] = [];
  for (const pattern of PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const specifier = m[2];
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue;
      const at = m.index + m[0].lastIndexOf(specifier);
      if (found.some((f) => f.at === at)) continue;
      found.push({ specifier, line: code.slice(0, at).split('\n').length, at });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ specifier, line }) => ({ specifier, line }));
}

/** Every relative import edge between files under root. Specifiers that resolve to a folder are left out. */
export function importEdges(root: string, files: readonly string[] = sourceFiles(root)): Edge[] {
  const edges: Edge[] = [];
  for (const from of files) {
    const text = readFileSync(path.join(root, from), 'utf8');
    for (const { specifier, line } of importSpecifiers(text)) {
      if (specifier.endsWith('/')) continue;
      const to = toPosix(path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)));
      edges.push({ from, to, line });
    }
  }
  return edges;
}

/** The area (top-level folder) of a file, or undefined for files at the root. */
export function areaOf(file: string): string | undefined {
  const slash = file.indexOf('/');
  return slash === -1 ? undefined : file.slice(0, slash);
}

/** Packages that exist only in Node (beside `node:` built-ins); src/ must not import them statically. */
export const NODE_ONLY_PACKAGES: readonly string[] = ['@libp2p/tcp', '@libp2p/mdns'];

const STATIC_IMPORT =
  /\b(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*(['"])([^'"]+)\1|\bimport\s*(['"])([^'"]+)\3/g;

/**
 * Static imports of Node-only modules in src/, which must run in browsers too. Files the
 * package's `browser` field swaps out for bundlers (`"./dist/src/x.js": false`) are exempt:
 * that swap is what keeps them out of a browser build.
 */
export function nodeOnlyImportsInCore(root: string, files: readonly string[] = sourceFiles(root)): Edge[] {
  const swapped = new Set<string>();
  try {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { browser?: unknown };
    if (typeof manifest.browser === 'object' && manifest.browser !== null) {
      for (const [from, to] of Object.entries(manifest.browser)) {
        if (to === false) swapped.add(from.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
      }
    }
  } catch {
    // no package.json (a fixture tree): nothing is swapped out
  }
  const out: Edge[] = [];
  for (const file of files) {
    if (areaOf(file) !== 'src' || swapped.has(file)) continue;
    const code = stripComments(readFileSync(path.join(root, file), 'utf8'));
    for (const m of code.matchAll(STATIC_IMPORT)) {
      const specifier = m[2] ?? m[4];
      const nodeOnly =
        specifier.startsWith('node:') ||
        NODE_ONLY_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`));
      if (nodeOnly) out.push({ from: file, to: specifier, line: code.slice(0, m.index).split('\n').length });
    }
  }
  return out;
}

export interface Violation {
  readonly edge: Edge;
  readonly why: string;
}

/** Edges that run up a floor or sideways into another area, and importers that stand on no floor. */
export function layerViolations(edges: readonly Edge[]): Violation[] {
  const out: Violation[] = [];
  for (const edge of edges) {
    const from = areaOf(edge.from);
    if (from !== undefined && EXEMPT_IMPORTERS.includes(from)) continue;
    const allowed = from === undefined ? undefined : MAY_IMPORT[from];
    if (allowed === undefined) {
      out.push({ edge, why: `${edge.from} stands on no floor (add its folder to MAY_IMPORT)` });
      continue;
    }
    const to = areaOf(edge.to);
    if (to === undefined || !allowed.includes(to)) {
      out.push({ edge, why: `${from}/ may import ${allowed.map((a) => `${a}/`).join(', ')} only` });
    }
  }
  return out;
}

/** Every file cycle, each as the list of files around it (first file repeated at the end), found once. */
export function fileCycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (from === to) continue;
    let set = next.get(from);
    if (set === undefined) next.set(from, (set = new Set()));
    set.add(to);
  }
  // Tarjan's strongly connected components; every component of two or more files holds a cycle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component);
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => cycleThrough(component.sort(), next));
}

/** One concrete cycle inside a strongly connected component, starting at its first file. */
function cycleThrough(component: string[], next: Map<string, Set<string>>): string[] {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component, start];
}

export function formatEdge(edge: Edge): string {
  return `${edge.from}:${edge.line} -> ${edge.to}`;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
