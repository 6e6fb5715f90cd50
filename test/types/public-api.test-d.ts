/**
 * Type tests of the public API, against the published declarations: 'weightwatcher',
 * 'weightwatcher/plots' and 'weightwatcher/sweep' resolve through package.json "exports" to
 * dist/*.d.ts (so `npm run build:ts` first), as a user's TypeScript sees them. Checked by vitest's
 * typecheck mode (vitest.config.ts: test/types/*.test-d.ts; nothing here runs). Each
 * `@ts-expect-error` must stay an error: a wrong option value that starts compiling fails the test.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  WeightWatcher,
  WeightWatcherError,
  LayerFailuresError,
  ERROR_CODES,
  openModel,
  svdvals,
  svdvalsSync,
  svdvalsDetailed,
  sweep,
  openResults,
  renderLayerPlots,
  type AnalyzeOptions,
  type Cell,
  type DescribeRow,
  type DetailsRow,
  type ErrorCode,
  type InMemoryTensor,
  type LayerFailure,
  type LayerResult,
  type MatrixSpectrum,
  type RunInfo,
  type RunStatus,
  type SkippedLayer,
  type Summary,
  type SvdRoute,
  type SweepResult,
  type SweepResults,
  type TensorStore,
} from 'weightwatcher';
import {
  createPlotRenderer,
  modelFigureSpecs,
  renderSvg,
  svgToPng,
  svgToPngAsync,
  type PlotRenderer,
  type PlotRendererOptions,
  type VlSpec,
} from 'weightwatcher/plots';
import * as sweepEntry from 'weightwatcher/sweep';

declare const store: TensorStore;
declare const tensors: InMemoryTensor[];

describe('WeightWatcher', () => {
  it('takes a path, a TensorStore or in-memory tensors, and a base model option', () => {
    expectTypeOf(new WeightWatcher('model.safetensors')).toEqualTypeOf<WeightWatcher>();
    expectTypeOf(new WeightWatcher(store)).toEqualTypeOf<WeightWatcher>();
    expectTypeOf(new WeightWatcher(tensors)).toEqualTypeOf<WeightWatcher>();
    expectTypeOf(new WeightWatcher()).toEqualTypeOf<WeightWatcher>();
    expectTypeOf(new WeightWatcher('ft.safetensors', { baseModel: 'base.safetensors' })).toEqualTypeOf<WeightWatcher>();
    // @ts-expect-error a number is not a model
    new WeightWatcher(42);
    // @ts-expect-error the option is baseModel
    new WeightWatcher('m.safetensors', { base_model: 'b.safetensors' });
  });

  it('analyze() resolves to typed rows: reference columns typed, extension columns through the index signature', async () => {
    const ww = new WeightWatcher('m.safetensors');
    const rows = await ww.analyze({ min_evals: 10, svd_method: 'accurate', precision: 'float64', randomize: true });
    expectTypeOf(rows).toEqualTypeOf<DetailsRow[]>();
    const row = rows[0]!;
    expectTypeOf(row.alpha).toEqualTypeOf<number>();
    expectTypeOf(row.log_spectral_norm).toEqualTypeOf<number>();
    expectTypeOf(row.layer_id).toEqualTypeOf<number>();
    expectTypeOf(row.name).toEqualTypeOf<string>();
    expectTypeOf(row.xmax).toEqualTypeOf<number | null>();
    expectTypeOf(row.status).toEqualTypeOf<'success' | 'failed'>();
    expectTypeOf(row.svd_route).toEqualTypeOf<string | undefined>();
    expectTypeOf(row['some_extension_column']).toEqualTypeOf<Cell | undefined>();
    expectTypeOf<DetailsRow>().toMatchTypeOf<DescribeRow>();
    // @ts-expect-error alpha is a number
    const asText: string = row.alpha;
    void asText;
  });

  it('analyze() options are checked', async () => {
    const ww = new WeightWatcher('m.safetensors');
    await ww.analyze({
      svd_method: 'fast',
      precision: 'float32',
      layers: [1, 'attn'],
      onLayer: (l) => {
        expectTypeOf(l).toEqualTypeOf<LayerResult>();
      },
    });
    // @ts-expect-error no GPU route
    await ww.analyze({ svd_method: 'gpu' });
    // @ts-expect-error float16 is a storage type, not a compute precision
    await ww.analyze({ precision: 'float16' });
    // @ts-expect-error min_evals is a number
    await ww.analyze({ min_evals: '10' });
    // @ts-expect-error unknown option
    await ww.analyze({ no_such_option: true });
    // The camelCase aliases of the option table are typed like their names.
    await ww.analyze({ minEvals: 20, svdMethod: 'accurate', mpFit: true, keepEvals: true });
    // @ts-expect-error minEvals is a number, as min_evals
    await ww.analyze({ minEvals: '10' });
    // @ts-expect-error svdMethod takes the svd_method values
    await ww.analyze({ svdMethod: 'gpu' });
    expectTypeOf<AnalyzeOptions['svd_method']>().toEqualTypeOf<'fast' | 'accurate' | undefined>();
  });

  it('lastRun, describe(), getSummary()', async () => {
    const ww = new WeightWatcher(store);
    expectTypeOf(ww.lastRun).toEqualTypeOf<RunInfo | undefined>();
    const run = ww.lastRun!;
    expectTypeOf(run.status).toEqualTypeOf<RunStatus>();
    expectTypeOf<RunStatus>().toEqualTypeOf<'ok' | 'partial' | 'failed' | 'empty'>();
    expectTypeOf(run.skipped).toEqualTypeOf<SkippedLayer[]>();
    expectTypeOf(run.failures).toEqualTypeOf<LayerFailure[]>();
    expectTypeOf(run.routes).toEqualTypeOf<Partial<Record<SvdRoute, number>> | undefined>();
    // @ts-expect-error lastRun is the record of a finished run, not an input
    run.status = 'ok';
    expectTypeOf(await ww.describe()).toEqualTypeOf<DescribeRow[]>();
    expectTypeOf(ww.getSummary()).toEqualTypeOf<Summary>();
  });
});

describe('building blocks', () => {
  it('svdvals(data, rows, cols, { method, precision })', async () => {
    const a = new Float32Array(12);
    expectTypeOf(await svdvals(a, 3, 4)).toEqualTypeOf<Float64Array>();
    expectTypeOf(await svdvals(new Float64Array(12), 3, 4, { method: 'fast', precision: 'float32' })).toEqualTypeOf<Float64Array>();
    expectTypeOf(svdvalsSync(a, 3, 4, { method: 'accurate' })).toEqualTypeOf<Float64Array>();
    // @ts-expect-error plain number arrays are not accepted
    await svdvals([1, 2, 3, 4], 2, 2);
    // @ts-expect-error no such method
    await svdvals(a, 3, 4, { method: 'gpu' });
    // @ts-expect-error no half-precision compute
    await svdvals(a, 3, 4, { precision: 'float16' });
  });

  it('svdvalsDetailed takes stored bytes with their dtype and reports the route', async () => {
    const s = await svdvalsDetailed(new Uint16Array(12), 3, 4, { dtype: 'BF16', method: 'fast' });
    expectTypeOf(s).toEqualTypeOf<MatrixSpectrum>();
    expectTypeOf(s.sv).toEqualTypeOf<Float64Array>();
    expectTypeOf(s.route).toEqualTypeOf<SvdRoute>();
    // @ts-expect-error F64 bytes come as a Float64Array, not a dtype
    await svdvalsDetailed(new Uint8Array(96), 3, 4, { dtype: 'F64' });
  });

  it('openModel returns a TensorStore', async () => {
    expectTypeOf(await openModel('m.gguf')).toEqualTypeOf<TensorStore>();
  });
});

describe('errors', () => {
  it('WeightWatcherError carries a typed code; LayerFailuresError the failures and rows', () => {
    const e = new WeightWatcherError('E_CORRUPT', 'bad header', { file: 'm.safetensors' });
    expectTypeOf(e.code).toEqualTypeOf<ErrorCode>();
    expectTypeOf(e).toMatchTypeOf<Error>();
    expectTypeOf(e.file).toEqualTypeOf<string | undefined>();
    expectTypeOf<ErrorCode>().toEqualTypeOf<(typeof ERROR_CODES)[number]>();
    expectTypeOf<'E_USAGE'>().toMatchTypeOf<ErrorCode>();
    // @ts-expect-error not an error code
    new WeightWatcherError('E_WHATEVER', 'x');
    const f = new LayerFailuresError('all layers failed', [], []);
    expectTypeOf(f).toMatchTypeOf<WeightWatcherError>();
    expectTypeOf(f.failures).toEqualTypeOf<readonly LayerFailure[]>();
    expectTypeOf(f.rows).toEqualTypeOf<readonly DetailsRow[]>();
    const caught: unknown = f;
    if (caught instanceof WeightWatcherError && caught.code === 'E_LAYERS_FAILED')
      expectTypeOf(caught.code).toEqualTypeOf<'E_LAYERS_FAILED'>();
  });
});

describe("the 'weightwatcher/plots' entry", () => {
  it('renders specs to SVG/PNG and runs a renderer pool', async () => {
    const specs = modelFigureSpecs([] as DetailsRow[]);
    expectTypeOf(specs).toEqualTypeOf<Record<string, VlSpec>>();
    expectTypeOf(renderSvg).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(svgToPng).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(svgToPngAsync).returns.resolves.toEqualTypeOf<Uint8Array>();
    expectTypeOf(createPlotRenderer).returns.toEqualTypeOf<PlotRenderer>();
    expectTypeOf(createPlotRenderer).parameter(0).toEqualTypeOf<PlotRendererOptions | undefined>();
    expectTypeOf<PlotRendererOptions['png']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf(await renderLayerPlots({} as LayerResult)).toEqualTypeOf<Record<string, string>>();
  });
});

describe('sweeps', () => {
  it('sweep() and openResults() from the main entry and from weightwatcher/sweep', async () => {
    expectTypeOf(await sweep(['a.safetensors', 'b.safetensors'], { db: 'runs.sqlite', min_evals: 10 })).toEqualTypeOf<SweepResult>();
    // @ts-expect-error db is required
    await sweep(['a.safetensors'], {});
    const results = await openResults('runs.sqlite');
    expectTypeOf(results).toEqualTypeOf<SweepResults>();
    expectTypeOf(results.summarySeries()).toBeArray();
    expectTypeOf(sweepEntry).toHaveProperty('sweep');
    // One name, one behaviour: openResults is asynchronous at the root and in weightwatcher/sweep;
    // the synchronous twin has its own name.
    expectTypeOf(sweepEntry.openResults).toEqualTypeOf(openResults);
    expectTypeOf(sweepEntry.openResults).returns.resolves.toEqualTypeOf<SweepResults>();
    expectTypeOf(sweepEntry.openResultsSync).returns.toEqualTypeOf<SweepResults>();
    // A sweep run's status is SweepRunStatus; RunStatus is analyze()'s (ok, partial, failed, empty).
    expectTypeOf<sweepEntry.SweepRunStatus>().toEqualTypeOf<'analysed' | 'cached' | 'failed'>();
    expectTypeOf<SweepResult['runs'][number]['status']>().toEqualTypeOf<sweepEntry.SweepRunStatus>();
    // @ts-expect-error weightwatcher/sweep has no RunStatus of its own (one name, one meaning)
    expectTypeOf<sweepEntry.RunStatus>().toBeString();
  });
});
