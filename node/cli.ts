/** The `meshfl` command line: one subcommand per front end. Exit codes: 0 ok, 1 failure, 2 bad usage/input. */
import { UsageError } from './args.ts';

// Subcommands are imported when chosen: tfjs and libp2p take seconds to load, and a usage
// or config error should answer at once.
const USAGE = `usage: meshfl <command> [options]

commands:
  train      train one model locally, no network (per-epoch progress, test accuracy)
  pretrain   train and save a backbone for the frozen-backbone mode (--out <file>)
  simulate   run a multi-peer scenario and write results, CSVs and plots
  daemon     run a peer as a long-lived service (config file, HTTP health/metrics/status)

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
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`meshfl: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    console.error(`meshfl ${command}: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof Error && /^(cannot read|.*: (not a meshfl|checksum|bad|unsupported))/.test(err.message)
      ? 2
      : 1;
  }
}
