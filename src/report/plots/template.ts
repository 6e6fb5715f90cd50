/**
 * Splits a figure's Vega-Lite spec into a template and its parameters (render.ts caches one
 * compiled View per template). What varies between figures of one kind is taken out:
 *
 * - inline data (`data: { values }`) → a named data set, filled with View.data();
 * - scale domains given as arrays (axis ranges, legend entries) → Vega-Lite parameters
 *   (`domain: { expr }`), set with View.signal();
 * - text constants (`datum: 'ESD (density)'`: legend entries) → parameters, with the type
 *   Vega-Lite infers for a string literal (nominal) written out, since it cannot infer one for an
 *   expression; numeric constants (`datum: 0`) are the same in every figure of a kind and stay;
 * - the top-level title's text → a parameter; its subtitle → a Vega signal (Vega-Lite has no
 *   expression form for subtitles; render.ts patches the compiled spec).
 *
 * Everything else stays in the template and makes up its key, so figures that differ in anything
 * else (another mark, legend colours, a panel more) get their own template. Vega-Lite does not
 * take an expression everywhere a literal goes (a datum that feeds a scale's domain is copied
 * into it as is): usableTemplate() checks the compiled template for parameters Vega-Lite left
 * unresolved, and render.ts renders such figures without a template. Equal parameter
 * values share a name (one domain used by every layer of a chart stays one signal), and so does
 * one data array used by several layers.
 */
import type { VlSpec } from './spec.js';

export const SUBTITLE_SIGNAL = 'ww_subtitle';

export interface SplitSpec {
  /** The template as canonical JSON: equal keys compile to the same View. */
  key: string;
  template: VlSpec;
  /** Parameter name → value. */
  signals: Record<string, unknown>;
  /** Data set name → rows. */
  data: Record<string, unknown[]>;
  /** The top-level subtitle, when there is one. */
  subtitle?: { value: unknown };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON that keeps NaN and ±Infinity apart from null (parameter values are compared by it). */
function valueKey(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `\u0000${String(x)}` : x));
}

export function splitTemplate(spec: VlSpec): SplitSpec {
  const signals: Record<string, unknown> = {};
  const signalByValue = new Map<string, string>();
  const data: Record<string, unknown[]> = {};
  const dataByArray = new Map<unknown[], string>();

  const param = (value: unknown): string => {
    const k = valueKey(value);
    let name = signalByValue.get(k);
    if (!name) {
      name = `ww_p${signalByValue.size}`;
      signalByValue.set(k, name);
      signals[name] = value;
    }
    return name;
  };
  const dataset = (values: unknown[]): string => {
    let name = dataByArray.get(values);
    if (!name) {
      name = `ww_d${dataByArray.size}`;
      dataByArray.set(values, name);
      data[name] = values;
    }
    return name;
  };

  /** A channel definition inside `encoding`. */
  const channel = (def: Json): Json => {
    const out = walk(def) as Json;
    if (typeof def.datum === 'string') {
      out.datum = { expr: param(def.datum) };
      out.type ??= 'nominal';
    }
    return out;
  };

  const walk = (node: unknown, key?: string): unknown => {
    if (Array.isArray(node)) return node.map((x) => walk(x));
    if (!isObject(node)) return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'data' && isObject(v) && Array.isArray(v.values) && Object.keys(v).length === 1) out[k] = { name: dataset(v.values) };
      else if (k === 'scale' && isObject(v) && Array.isArray(v.domain))
        out[k] = { ...(walk(v) as Json), domain: { expr: param(v.domain) } };
      else if (key === 'encoding' && isObject(v)) out[k] = channel(v);
      else out[k] = walk(v, k);
    }
    return out;
  };

  const template = walk(spec) as Json;
  let subtitle: { value: unknown } | undefined;
  // The key stands for the template whatever the parameter values: it shows the subtitle's shape only.
  let keyTitle: unknown = template.title;
  const title = spec.title;
  if (typeof title === 'string') keyTitle = template.title = { text: { expr: param(title) } };
  else if (isObject(title)) {
    const t = { ...(template.title as Json) };
    if (typeof title.text === 'string' || Array.isArray(title.text)) t.text = { expr: param(title.text) };
    template.title = t;
    keyTitle = t;
    if (title.subtitle !== undefined) {
      subtitle = { value: title.subtitle };
      keyTitle = { ...t, subtitle: Array.isArray(title.subtitle) ? title.subtitle.map(() => '') : '' };
    }
  }
  const own = (template.params as unknown[] | undefined) ?? [];
  const names = Object.keys(signals);
  if (names.length) template.params = [...own, ...names.map((name) => ({ name, value: signals[name] }))];
  const key = JSON.stringify({ ...template, title: keyTitle, params: [...own, ...names] });
  return { key, template, signals, data, ...(subtitle ? { subtitle } : {}) };
}

/** False when Vega-Lite copied a parameter reference somewhere instead of turning it into a signal. */
export function usableTemplate(compiled: unknown): boolean {
  return !/"expr":"ww_p\d+"/.test(JSON.stringify(compiled));
}
