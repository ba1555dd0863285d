/**
 * `meshfl daemon`: a long-running peer for edge hardware (see docs/DAEMON.md). Config from
 * a JSON/YAML file, then MESHFL_* environment variables, then flags. SIGINT/SIGTERM stop
 * it cleanly (exit 0) within SHUTDOWN_TIMEOUT_MS, else it exits 1 saying so.
 */
import { type FlagSpec, parseFlags } from '../args.ts';
import { type DaemonConfig, parseDaemonConfig } from '../daemon/config.ts';
import { applyOverrides, OVERRIDES, readConfigFile } from '../daemon/config-sources.ts';
import { isOperatorError } from '../daemon/errors.ts';
import { createLogger, type Logger } from '../daemon/logger.ts';

/** After a stop signal, give up on a clean shutdown after this long. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export const DAEMON_SUMMARY = `meshfl daemon --config <file> [options]   run a peer as a long-lived service ('meshfl daemon --help')`;

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
    return 0;
  }
  let config: DaemonConfig;
  try {
    const file = typeof flags.config === 'string' ? readConfigFile(flags.config) : undefined;
    const { raw, sources } = applyOverrides(file, process.env, flags);
    config = parseDaemonConfig(raw, sources);
    // Files on disk too: --check validates everything, and a real start fails fast.
    const { preflight } = await import('../daemon/preflight.ts');
    preflight(config);
  } catch (err) {
    if (isOperatorError(err)) {
      console.error(`meshfl daemon: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (flags.check) {
    console.log(
      JSON.stringify({ ...config, http: { ...config.http, token: config.http.token ? '<set>' : undefined } }, null, 2),
    );
    return 0;
  }
  const logger = createLogger({ level: config.logLevel });
  return await runWithSignals(config, logger);
}

async function runWithSignals(config: DaemonConfig, logger: Logger): Promise<number> {
  const stop = new AbortController();
  let hardStop: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      logger.error(`second ${signal}: exiting now without a clean shutdown`);
      process.exit(1);
    }
    logger.info(`${signal} received: shutting down`);
    hardStop = setTimeout(() => {
      logger.error(`shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS} ms: exiting`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    stop.abort();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    // Loaded only now: tfjs and libp2p take seconds to import, config errors should not wait.
    const { runDaemon } = await import('../daemon/daemon.ts');
    return await runDaemon(config, logger, stop.signal);
  } catch (err) {
    if (isOperatorError(err)) {
      logger.error(err.message);
      console.error(`meshfl daemon: ${err.message}`);
      return 2;
    }
    logger.error('daemon failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return 1;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    if (hardStop) clearTimeout(hardStop);
  }
}
