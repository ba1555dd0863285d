/** Markdown tables and number formatting shared by the bench report. */

/** A markdown table; columns whose header starts with '>' are right-aligned (the '>' is dropped). */
export function markdownTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => (h.startsWith('>') ? h.slice(1) : h));
  const lines = [`| ${names.join(' | ')} |`, `| ${right.map((r) => (r ? '---:' : '---')).join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** 3 significant digits, thousands separated from 10,000 up. */
export function num(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const abs = Math.abs(v);
  if (abs >= 10_000) return Math.round(v).toLocaleString('en-US');
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  if (abs >= 1) return v.toFixed(2);
  if (abs === 0) return '0';
  return v.toPrecision(2);
}

export function ratio(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${num(v)}x`;
}

export function megabytes(bytes: number): string {
  return `${num(bytes / 1e6)} MB`;
}

export function kilobytes(bytes: number): string {
  return `${num(bytes / 1e3)} kB`;
}
