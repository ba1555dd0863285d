/**
 * `meshfl daemon`: a long-running peer for edge hardware (see docs/DAEMON.md). Config from
 * a JSON/YAML file, then MESHFL_* environment variables, then flags. SIGINT/SIGTERM stop
 * it cleanly (exit 0) within SHUTDOWN_TIMEOUT_MS, else it exits 1 saying so.
 *
 * The config validator (strategies, codecs) is imported after the flags are checked and the
 * daemon (tfjs, libp2p) once the config is valid, so --help, a bad flag and a bad config
 * answer at once (test/cli/lazy-imports.test.ts).
 */

import type { DaemonConfig } from '../../node/daemon/config.ts';
import { ConfigError } from '../../node/daemon/config-error.ts';
import { applyOverrides, OVERRIDES, readConfigFile } from '../../node/daemon/config-sources.ts';
import { createLogger, type Logger } from '../../node/daemon/logger.ts';
import { type FlagSpec, parseFlags } from '../args.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../errors.ts';

/** After a stop signal, give up on a clean shutdown after this long. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export const DAEMON_USAGE = `meshfl daemon [--config <file>] [options]   run a peer as a long-lived service
  --config <file>         JSON or YAML config (keys: docs/DAEMON.md); flags and MESHFL_* env override it
${OVERRIDES.map((o) => `  --${`${o.flag} <value>`.padEnd(22)}${o.help} (env ${o.env})`).join('\n')}
  --check                 validate the config, addresses and data files, print the config and exit`;

export async function daemonCommand(argv: string[]): Promise<number> {
  const spec: FlagSpec = {
    config: { type: 'string' },
    check: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const o of OVERRIDES) spec[o.flag] = { type: 'string' };
  const flags = parseFlags(argv, spec, 'daemon');
  if (flags.help) {
    console.log(DAEMON_USAGE);
    return EXIT_OK;
  }
  const { parseDaemonConfig } = await import('../../node/daemon/config.ts');
  let config: DaemonConfig;
  let diskError: (err: unknown) => boolean = () => false;
  try {
    const file = typeof flags.config === 'string' ? readConfigFile(flags.config) : undefined;
    const { raw, sources } = applyOverrides(file, process.env, flags);
    config = parseDaemonConfig(raw, sources);
    // Files on disk too: --check validates everything, and a real start fails fast.
    const checks = await import('../../node/daemon/preflight.ts');
    diskError = checks.isPreflightError;
    checks.preflight(config);
  } catch (err) {
    // Reading and validating fail with a ConfigError, the disk checks with a DataError or
    // StoreError: all operator errors (exit 2).
    if (err instanceof ConfigError || (err instanceof Error && diskError(err))) {
      console.error(`meshfl daemon: ${err.message}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (flags.check) {
    const { checkedTask } = await import('../../node/daemon/task.ts');
    const http = { ...config.http, token: config.http.token ? '<set>' : undefined };
    console.log(JSON.stringify({ ...config, task: checkedTask(config.task), http }, null, 2));
    return EXIT_OK;
  }
  const logger = createLogger({ level: config.logLevel });
  return await runWithSignals(config, logger);
}

async function runWithSignals(config: DaemonConfig, logger: Logger): Promise<number> {
  // Loaded only now (the store's key handling imports libp2p, the daemon tfjs too): they take
  // seconds to import, and config errors should not wait.
  const { isOperatorError } = await import('../../node/daemon/errors.ts');
  const stop = new AbortController();
  let hardStop: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      logger.error(`second ${signal}: exiting now without a clean shutdown`);
      process.exit(EXIT_FAILURE);
    }
    logger.info(`${signal} received: shutting down`);
    hardStop = setTimeout(() => {
      logger.error(`shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS} ms: exiting`);
      process.exit(EXIT_FAILURE);
    }, SHUTDOWN_TIMEOUT_MS);
    stop.abort();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    const { runDaemon } = await import('../../node/daemon/daemon.ts');
    return await runDaemon(config, logger, stop.signal);
  } catch (err) {
    if (isOperatorError(err)) {
      logger.error(err.message);
      console.error(`meshfl daemon: ${err.message}`);
      return EXIT_USAGE;
    }
    logger.error('daemon failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return EXIT_FAILURE;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    if (hardStop) clearTimeout(hardStop);
  }
}
