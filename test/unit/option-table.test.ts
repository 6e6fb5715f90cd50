/**
 * The option table (src/shared/option-table.ts) is the one source of the analysis options: every
 * row must reach each place derived from it — DEFAULTS, resolveOptions (name and alias), the CLI
 * flag groups, parsing and --help, docs/options.md and the sweep cache key. A new row without a
 * sample below fails to compile and fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS_DOC_PATH, renderOptionsDoc } from '../../scripts/gen-options-docs.js';
import { ANALYSIS_OPTIONS, MODEL_DIFF_OPTIONS, RUN_OPTIONS, SELECTION_OPTIONS, parse, toAnalyzeOptions } from '../../src/cli/args.js';
import { commandHelp, commandOptions } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/main.js';
import { DEFAULTS, NUMERIC_OPTIONS, OPTION_ROWS, resolveOptions, type AnalyzeOptions, type OptionName } from '../../src/shared/options.js';
import { optionsHash } from '../../src/sweep/fingerprint.js';

interface Sample {
  /** A value other than the default, as the API takes it… */
  readonly api: unknown;
  /** …and as resolveOptions returns it (default: the same). */
  readonly resolved?: unknown;
  /** Options the value needs to be valid (pl_package for TPL, …). */
  readonly with?: AnalyzeOptions;
  /** The flag's text for a value flag, and what it parses to (default: `api`). */
  readonly cli?: string;
  readonly cliApi?: unknown;
}

const noop = (): void => {};

/** One non-default value per option. */
const SAMPLES: Record<OptionName, Sample> = {
  layers: { api: 3, resolved: [3], cli: '2,dense,-fc1', cliApi: [2, 'dense', '-fc1'] },
  min_evals: { api: 20, cli: '20' },
  max_evals: { api: null, cli: 'none' },
  max_N: { api: 40000, cli: '40000' },
  start_ids: { api: 1, cli: '1' },
  pool: { api: false },
  conv2d_norm: { api: false },
  glorot_fix: { api: true },
  channels: { api: 'LAST', resolved: 'last', cli: 'first', cliApi: 'first' },
  fit: { api: 'TPL', resolved: 'truncated_power_law', with: { pl_package: 'powerlaw' }, cli: 'TPL' },
  pl_package: { api: 'powerlaw', cli: 'powerlaw' },
  xmax: { api: -2, cli: 'force', cliApi: 'force' },
  fix_fingers: { api: 'clip_xmax', cli: 'clip_xmax' },
  xmin_max: { api: 2.5, with: { pl_package: 'powerlaw', fix_fingers: 'xmin_peak' }, cli: '2.5' },
  max_fingers: { api: 5, cli: '5' },
  finger_thresh: { api: 0.5, cli: '0.5' },
  randomize: { api: true },
  mp_fit: { api: true },
  detX: { api: true },
  vectors: { api: true },
  inverse: { api: true },
  stacked: { api: true },
  intra: { api: true },
  sparsify: { api: false, with: { intra: true } },
  tolerance: { api: 1e-3, cli: '1e-3' },
  svd_method: { api: 'accurate', cli: 'accurate' },
  seed: { api: 7, with: { randomize: true }, cli: '7' },
  precision: { api: 'float32', cli: 'float32' },
  threads: { api: 1, cli: '1' },
  onnx_constants: { api: true },
  peft: { api: true, resolved: 'peft_only', cli: 'with-base', cliApi: 'with_base' },
  base_match: { api: 'substring', cli: 'substring' },
  all_tensors: { api: true },
  format: { api: 'bin', resolved: 'pytorch', cli: 'onnx', cliApi: 'onnx' },
  allow_large: { api: true },
  throwOnFailure: { api: true },
  keep_evals: { api: true },
  onProgress: { api: noop },
  signal: { api: new AbortController().signal },
  timeoutMs: { api: 5000 },
};

const FLAG_GROUPS = { selection: SELECTION_OPTIONS, analysis: ANALYSIS_OPTIONS, 'model-diff': MODEL_DIFF_OPTIONS, run: RUN_OPTIONS };

describe('option table', () => {
  it('every row has a sample, and every sample a row', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(OPTION_ROWS.map(([n]) => n).sort());
  });

  it.each(OPTION_ROWS)('%s: default, name and alias resolve', (name, row) => {
    expect(name in DEFAULTS).toBe(true);
    expect((DEFAULTS as Record<string, unknown>)[name]).toEqual(row.default);
    const s = SAMPLES[name];
    const want = 'resolved' in s ? s.resolved : s.api;
    expect((resolveOptions({ ...s.with, [name]: s.api }) as Record<string, unknown>)[name]).toEqual(want);
    if (row.alias !== undefined) expect((resolveOptions({ ...s.with, [row.alias]: s.api }) as Record<string, unknown>)[name]).toEqual(want);
    expect(() => resolveOptions({ [name]: Symbol('bad') })).toThrow(/invalid options/);
  });

  it.each(OPTION_ROWS.filter(([, r]) => r.cli))('%s: its flag is in its group, in --help, and parses to the option', (name, row) => {
    const cli = row.cli!;
    expect(Object.keys(FLAG_GROUPS[cli.group])).toContain(cli.flag);
    const analyze = COMMANDS.find((c) => c.name === 'analyze')!;
    expect(commandHelp(analyze)).toContain(`--${cli.flag}`);
    const s = SAMPLES[name];
    const argv =
      cli.value === undefined || cli.implicit !== undefined ? [`--${cli.flag}`, ...(s.cli ? [s.cli] : [])] : [`--${cli.flag}`, s.cli!];
    expect(s.cli !== undefined || cli.value === undefined || cli.implicit !== undefined).toBe(true);
    const given = toAnalyzeOptions(parse(argv, commandOptions(analyze)).values) as Record<string, unknown>;
    expect(given).toEqual({ [name]: cli.value === undefined ? cli.sets : 'cliApi' in s ? s.cliApi : s.api });
  });

  it('every flag of the derived groups comes from a row', () => {
    const flags = new Set(OPTION_ROWS.flatMap(([, r]) => (r.cli ? [r.cli.flag] : [])));
    for (const group of [SELECTION_OPTIONS, ANALYSIS_OPTIONS, RUN_OPTIONS]) for (const f of Object.keys(group)) expect(flags).toContain(f);
    expect(Object.keys(MODEL_DIFF_OPTIONS).filter((f) => !flags.has(f))).toEqual(['base-model']);
  });

  it.each(OPTION_ROWS)('%s: in the sweep cache key exactly when it can change a number', (name, row) => {
    const s = SAMPLES[name];
    const changed = optionsHash({ ...s.with, [name]: s.api }) !== optionsHash({ ...s.with });
    expect(changed).toBe(row.changesNumbers);
    expect(NUMERIC_OPTIONS.includes(name)).toBe(row.changesNumbers);
  });

  it('docs/options.md has the generated table (else: npx vite-node scripts/gen-options-docs.ts)', () => {
    const current = readFileSync(OPTIONS_DOC_PATH, 'utf8');
    expect(renderOptionsDoc(current)).toBe(current);
    for (const [name, row] of OPTION_ROWS) {
      expect(current).toContain(`\`${name}\``);
      if (row.cli) expect(current).toContain(`\`--${row.cli.flag}`);
    }
  });

  it('refuses an option given twice, by name and by alias', () => {
    expect(() => resolveOptions({ min_evals: 3, minEvals: 4 })).toThrow(/give min_evals once/);
  });
});
