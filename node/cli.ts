/** The `meshfl` command line: one subcommand per front end. Exit codes: 0 ok, 1 failure, 2 bad usage/input. */
import { UsageError } from './args.ts';
import { DAEMON_SUMMARY, daemonCommand } from './commands/daemon.ts';
import { SIMULATE_SUMMARY, simulateCommand } from './commands/simulate.ts';
import { TRAIN_USAGE, trainCommand } from './commands/train.ts';

const USAGE = `usage: meshfl <command> [options]

commands:
${TRAIN_USAGE}
meshfl pretrain --out <file> [train options]   train a backbone for --trainable head and save it
${SIMULATE_SUMMARY}
${DAEMON_SUMMARY}

Run 'meshfl <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
        return await trainCommand(rest, 'train');
      case 'pretrain':
        return await trainCommand(rest, 'pretrain');
      case 'simulate':
        return await simulateCommand(rest);
      case 'daemon':
        return await daemonCommand(rest);
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
