/**
 * Datasets from CSV text: one sample per line, `feature,feature,...,label`. An optional
 * header line (any non-numeric field in the first line) is skipped; blank lines are
 * ignored. Features are kept as written (no scaling).
 */
import type { Dataset } from './dataset.ts';

export interface CsvOptions {
  /** Default: largest label + 1 (at least 2). */
  readonly numClasses?: number;
  /** Shape of one sample; default [features]. Its product must equal the feature count. */
  readonly featureShape?: readonly number[];
  /** Field separator. Default ','. */
  readonly separator?: string;
}

const MAX_CLASSES = 256;

/** Parses CSV text; `source` (e.g. the file path) prefixes errors, which name 1-based line numbers. */
export function parseCsvDataset(text: string, options: CsvOptions = {}, source = 'CSV'): Dataset {
  const separator = options.separator ?? ',';
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  if (first < lines.length && isHeader(lines[first], separator)) first++;

  let width = -1;
  const values: number[] = [];
  const labels: number[] = [];
  for (let l = first; l < lines.length; l++) {
    const line = lines[l].trim();
    if (line === '') continue;
    const fields = line.split(separator);
    const where = `${source}: line ${l + 1}`;
    if (fields.length < 2) throw new RangeError(`${where}: need at least one feature and a label, got "${line}"`);
    if (width < 0) width = fields.length;
    else if (fields.length !== width) throw new RangeError(`${where}: ${fields.length} fields, expected ${width}`);
    for (let f = 0; f < fields.length - 1; f++) {
      const v = parseNumber(fields[f]);
      if (!Number.isFinite(v)) throw new RangeError(`${where}: field ${f + 1} "${fields[f]}" is not a finite number`);
      values.push(v);
    }
    const labelText = fields[fields.length - 1];
    const label = parseNumber(labelText);
    if (!(Number.isInteger(label) && label >= 0 && label < MAX_CLASSES)) {
      throw new RangeError(`${where}: label "${labelText.trim()}" is not an integer in [0, ${MAX_CLASSES})`);
    }
    if (options.numClasses !== undefined && label >= options.numClasses) {
      throw new RangeError(`${where}: label ${label} >= numClasses ${options.numClasses}`);
    }
    labels.push(label);
  }
  if (labels.length === 0) throw new RangeError(`${source}: no data lines`);

  const features = width - 1;
  const featureShape = [...(options.featureShape ?? [features])];
  if (featureShape.reduce((a, b) => a * b, 1) !== features) {
    throw new RangeError(`${source}: featureShape [${featureShape.join(', ')}] does not hold ${features} features`);
  }
  // A loop, not Math.max(...labels): spreading a large file's labels overflows the stack.
  let maxLabel = 0;
  for (const label of labels) maxLabel = Math.max(maxLabel, label);
  const numClasses = options.numClasses ?? Math.max(2, maxLabel + 1);
  if (!(Number.isInteger(numClasses) && numClasses >= 2 && numClasses <= MAX_CLASSES)) {
    throw new RangeError(`${source}: numClasses must be an integer in [2, ${MAX_CLASSES}], got ${numClasses}`);
  }
  return { x: Float32Array.from(values), y: Uint8Array.from(labels), featureShape, numClasses };
}

/** Number('') is 0, so blank fields must be rejected explicitly. */
function parseNumber(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

function isHeader(line: string, separator: string): boolean {
  return line.split(separator).some((field) => Number.isNaN(parseNumber(field)));
}
