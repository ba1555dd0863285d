/**
 * The `meshfl` command line: one subcommand per front end. Exit codes (cli/errors.ts): 0 ok,
 * 1 failure, 2 bad usage/input, 130 interrupted; an error's type picks its code.
 */
import { EXIT_OK, EXIT_USAGE, errorLine, exitCodeOf } from './errors.ts';

// Subcommands are imported when chosen, and they import tfjs and libp2p only after their
// flags are checked: those take seconds to load, and --help or a usage error should answer
// at once (test/cli/lazy-imports.test.ts).
const USAGE = `usage: meshfl <command> [options]

commands:
  train      train one model locally, no network (per-epoch progress, test accuracy)
  pretrain   train and save a backbone for the frozen-backbone mode (--out <file>)
  simulate   run a multi-peer scenario and write results, CSVs and plots
  daemon     run a peer as a long-lived service (config file, HTTP health/metrics/status)
  export     write a model (file or a daemon's newest checkpoint) as a tfjs LayersModel directory

Run 'meshfl <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
      case 'pretrain':
        return await (await import('./commands/train.ts')).trainCommand(rest, command);
      case 'simulate':
        return await (await import('./commands/simulate.ts')).simulateCommand(rest);
      case 'daemon':
        return await (await import('./commands/daemon.ts')).daemonCommand(rest);
      case 'export':
        return await (await import('./commands/export.ts')).exportCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        console.error(`meshfl: unknown command "${command}"\n\n${USAGE}`);
        return EXIT_USAGE;
    }
  } catch (err) {
    console.error(errorLine(command, err));
    return exitCodeOf(err);
  }
}
