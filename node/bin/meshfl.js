#!/usr/bin/env node
// meshfl command-line entry. The sources are TypeScript run directly by Node 22+.
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(
    `meshfl needs Node.js 22 or newer (this is ${process.version}). Run it through npm ` +
      '(`npx meshfl ...` or `npm run ...` in the project, which use the bundled Node 22), or install Node 22+.',
  );
  process.exit(2);
}
const { main } = await import('../cli.ts');
process.exitCode = await main(process.argv.slice(2));
