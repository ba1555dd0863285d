/**
 * `meshfl export`: a meshfl model (a daemon's newest checkpoint, or any .mflm model file) as
 * a tfjs LayersModel directory, model.json + weights.bin, that tf.loadLayersModel loads in
 * Node and in a browser. A RepVGG CNN is written fused (one 3x3 conv per block).
 *
 * tfjs is imported after the flags and the input file are checked, so --help and a bad
 * flag answer at once (test/cli/lazy-imports.test.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadModelFile } from '../../node/model-store.ts';
import type { ModelFile } from '../../src/model/model-file.ts';
import { choiceFlag, parseFlags } from '../args.ts';
import { EXIT_OK, InputError, UsageError } from '../errors.ts';

export const EXPORT_USAGE = `meshfl export --from <file|dir> --out <dir> [options]   write a tfjs LayersModel directory
  --from <file|dir>           a meshfl model file (.mflm: 'meshfl train --out', a checkpoint),
                              or a daemon's data directory (its newest readable checkpoint)
  --out <dir>                 directory for model.json and weights.bin (created if needed)
  --activation <name>         softmax | linear: output of a built-in model (default softmax)
  --backend <name>            wasm | cpu | auto (default auto)

Load it with tf.loadLayersModel('<url>/model.json') in a browser, or in Node with
layersModelDir('<dir>') from 'meshfl/node'.`;

const CHECKPOINT = /^round-(\d{1,12})\.mflm$/;

/** The newest checkpoint in a data directory that decodes, with the reasons newer ones did not. */
function newestCheckpoint(dataDir: string): { file: string; model: ModelFile } {
  const dir = path.join(dataDir, 'checkpoints');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new InputError(`${dataDir}: no checkpoints directory (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const files = names
    .flatMap((n) => {
      const m = CHECKPOINT.exec(n);
      return m ? [{ file: path.join(dir, n), round: Number(m[1]) }] : [];
    })
    .sort((a, b) => b.round - a.round);
  const problems: string[] = [];
  for (const { file } of files) {
    try {
      return { file, model: loadModelFile(file) };
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw new InputError(
    files.length === 0
      ? `${dataDir}: no checkpoint yet (checkpoints/round-<n>.mflm)`
      : `${dataDir}: no readable checkpoint (${problems.join('; ')})`,
  );
}

export async function exportCommand(argv: string[]): Promise<number> {
  const f = parseFlags(
    argv,
    {
      from: { type: 'string' },
      out: { type: 'string' },
      activation: { type: 'string', default: 'softmax' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
    'export',
  );
  if (f.help) {
    console.log(EXPORT_USAGE);
    return EXIT_OK;
  }
  if (typeof f.from !== 'string') throw new UsageError('meshfl export: --from <file|dir> is required');
  if (typeof f.out !== 'string') throw new UsageError('meshfl export: --out <dir> is required');
  const activation = choiceFlag(f.activation, 'activation', ['softmax', 'linear'] as const);
  const backend = choiceFlag(f.backend, 'backend', ['wasm', 'cpu', 'auto'] as const);
  let source: { file: string; model: ModelFile };
  let isDir = false;
  try {
    isDir = statSync(f.from).isDirectory();
  } catch (err) {
    throw new InputError(`${f.from}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (isDir) source = newestCheckpoint(f.from);
  else {
    try {
      source = { file: f.from, model: loadModelFile(f.from) };
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  const [{ initBackend }, { exportModelFile }, { writeLayersModelDir }] = await Promise.all([
    import('../../src/train/backend.ts'),
    import('../../src/model/export.ts'),
    import('../../node/model-export.ts'),
  ]);
  await initBackend(backend);
  const files = await exportModelFile(source.model, { activation });
  const written = writeLayersModelDir(f.out, files);
  const spec = source.model.spec;
  const kind =
    spec.kind === 'cnn' ? `cnn (${spec.reparam}${spec.reparam === 'repvgg' ? ', exported fused' : ''})` : spec.kind;
  const round = source.model.meta.round;
  console.log(
    `meshfl export: ${source.file}${typeof round === 'number' ? ` (round ${round})` : ''}, ${kind} -> ` +
      `${written.modelJson} + ${written.weights} (${files.weights.byteLength} bytes of weights)`,
  );
  return EXIT_OK;
}
