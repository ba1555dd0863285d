#!/usr/bin/env node
// meshfl command-line entry. In the repo the TypeScript sources run directly on Node 22+;
// an installed package has no sources (and Node will not strip types under node_modules),
// so it runs the build in dist/ (`npm run build`, done by `prepack`).
import { existsSync } from 'node:fs';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(
    `meshfl needs Node.js 22 or newer (this is ${process.version}). In a clone of the meshfl ` +
      'repository, `npm ci` installs Node 22 and `npx meshfl ...` / `npm run ...` use it; elsewhere, install Node 22+.',
  );
  process.exit(2);
}
const sources = new URL('../cli.ts', import.meta.url);
const runSources = existsSync(sources) && !sources.pathname.includes('/node_modules/');
const { main } = await import(runSources ? '../cli.ts' : '../../dist/cli/cli.js');
process.exitCode = await main(process.argv.slice(2));
