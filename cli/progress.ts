/**
 * Progress for long work: a self-updating line on a terminal, plain log lines (about every
 * 10%) otherwise, so logs in CI and files stay readable.
 */
export interface ProgressLine {
  update(done: number, total: number, text: string): void;
  /** Ends the line (on a terminal) and prints `text` on its own line. */
  finish(text: string): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const tty = stream.isTTY === true;
  let lastDecile = -1;
  const start = performance.now();
  return {
    update(done, total, text) {
      const fraction = total > 0 ? done / total : 1;
      const elapsed = (performance.now() - start) / 1000;
      const eta = fraction > 0 ? elapsed * (1 / fraction - 1) : Number.NaN;
      const line = `${(fraction * 100).toFixed(0).padStart(3)}% ${text} | ${elapsed.toFixed(0)}s elapsed, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : '?'}`;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}\x1b[K`);
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile !== lastDecile) {
          lastDecile = decile;
          stream.write(`${line}\n`);
        }
      }
    },
    finish(text) {
      stream.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    },
  };
}
