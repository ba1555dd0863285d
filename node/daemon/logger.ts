/**
 * Structured logs: one JSON object per line (level, time, peer, round, msg, fields) when
 * stdout is not a terminal (systemd, Docker, files, tests), a readable line when it is.
 */
import { LOG_LEVELS, type LogLevel } from './config.ts';

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Context stamped on every later line (peer id, current round). */
  setContext(context: { peer?: string; round?: number }): void;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Default: JSON unless the stream is a terminal. */
  readonly json?: boolean;
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  readonly now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const json = options.json ?? stream.isTTY !== true;
  const now = options.now ?? (() => new Date());
  const threshold = LOG_LEVELS.indexOf(options.level);
  let peer: string | undefined;
  let round: number | undefined;
  const write = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const time = now().toISOString();
    if (json) {
      stream.write(`${JSON.stringify({ level, time, peer, round, msg, ...plain(fields) })}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(plain({ v }).v)}`)
      .join(' ');
    const where = round === undefined ? '' : ` r${round}`;
    stream.write(`${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)}${where} ${msg}${extra ? ` ${extra}` : ''}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    setContext(context) {
      if (context.peer !== undefined) peer = context.peer;
      if (context.round !== undefined) round = context.round;
    },
  };
}

/** Errors become their message (JSON.stringify would print `{}`). */
function plain(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}
