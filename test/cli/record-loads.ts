/**
 * `node --import ./record-loads.ts ...`: records the URL of every module the process loads
 * (ES modules and CommonJS alike, through the synchronous module hooks) and writes them,
 * one a line, to the file named by MESHFL_RECORD_LOADS when the process exits. Used to show
 * which modules a command loads (test/cli/lazy-imports.test.ts).
 */
import { writeFileSync } from 'node:fs';
import module from 'node:module';

const out = process.env.MESHFL_RECORD_LOADS;
const loaded: string[] = [];
if (out !== undefined && typeof module.registerHooks === 'function') {
  module.registerHooks({
    load(url, context, nextLoad) {
      loaded.push(url);
      return nextLoad(url, context);
    },
  });
  process.on('exit', () => writeFileSync(out, `${loaded.join('\n')}\n`));
}
