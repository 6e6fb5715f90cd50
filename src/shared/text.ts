/** String helpers shared by the readers and the report. */

/** Python's default str ordering (code points), which is what safetensors' keys() returns sorted by. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** Characters that act on a terminal instead of printing: C0/C1 controls, DEL, bidi overrides. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `s` safe to print on a terminal: control characters (ESC, BEL, newlines, …), DEL, C1 controls and
 * bidi overrides become visible escapes (`\x1b`, `\n`, `\u202e`), so a tensor name from a model
 * file cannot set the window title, move the cursor, colour the screen or break a table row.
 */
export function escapeControl(s: string, opts: { keepNewlines?: boolean } = {}): string {
  return s.replace(UNSAFE_FOR_TERMINAL, (c) => {
    if (c === '\n' && opts.keepNewlines) return c;
    const code = c.charCodeAt(0);
    return NAMED_ESCAPES[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}
