/**
 * sweep-report: read a sweep from the results database and produce its text summary, figures
 * (--plot DIR: sweep.<figure>.svg and .png) and HTML report (--report FILE.html), with the same
 * rendering (report/plots/render.ts) and page machinery (report/html.ts) as analyze --report.
 */
import { dirname, join, resolve } from 'node:path';
import { renderSvg, svgToPng, type PngOptions } from '../report/plots/render.js';
import {
  alphaMovers,
  formatMover,
  layerAnchorOf,
  layerLabel,
  stepLabel,
  sweepFigureSpecs,
  type AlphaMover,
  type SweepFigureData,
} from '../report/plots/sweep.js';
import { sweepReportHtml } from '../report/html.js';
import { interactiveSpecs } from '../report/interactive.js';
import { fmt } from '../report/plots/data.js';
import { makeDirectory, writeFileAtomic } from '../shared/atomic-write.js';
import { WeightWatcherError } from '../shared/errors.js';
import { DEFAULTS } from '../shared/options.js';
import { openResultsSync, type SummaryPoint, type SweepResults, type SweepSelector } from './results.js';
import {
  esdFitOf,
  LayerEsdBuilder,
  SWEEP_ESD_BINS,
  SWEEP_ESD_COLORS,
  sweepEsdSpec,
  type EsdFit,
  type SweepEsdData,
} from '../report/plots/sweep-esd.js';
import { sweepEsdPanelHtml } from '../report/sweep-esd-panel.js';

export interface SweepReportOptions {
  readonly db: string;
  /** Sweep id, 'latest' (default) or 'all'. */
  readonly sweep?: SweepSelector;
  /** Folder for the figures. */
  readonly plot?: string;
  /** How the PNGs in `plot` are rasterised (default: svgToPng's, 2× the SVG size). */
  readonly png?: PngOptions;
  /** Self-contained HTML report. */
  readonly report?: string;
  /** How many movers to list (default 12). */
  readonly top?: number;
}

export interface SweepReport {
  readonly data: SweepFigureData;
  readonly movers: AlphaMover[];
  /** Plain-text summary (what the CLI prints). */
  readonly text: string;
  /** Files written. */
  readonly files: string[];
  readonly notes: string[];
  /** Set when the sweep did not finish: the report covers only the models that have results. */
  readonly incomplete?: SweepIncomplete;
  /** With `report`: the per-layer ESD summaries its ESD panel draws (none when no run has spectra). */
  readonly esd?: SweepEsdData;
}

/** The message of a database whose runs have no spectra: made before they were stored (issue 22). */
export const NO_SPECTRA_NOTE =
  'this database has no spectra (made by an older version); rerun the sweep to get ESD figures (with --force: a rerun does not analyse stored runs again)';

/** Notes on runs without spectra: made by an older version, or swept with --no-spectra. */
function spectraNotes(results: SweepResults, points: readonly SummaryPoint[]): string[] {
  const states = points.map((p) => results.spectraState(p.runKey));
  const older = states.filter((s) => s === 'older').length;
  const off = states.filter((s) => s === 'off').length;
  const n = points.length;
  const notes: string[] = [];
  if (older === n) notes.push(NO_SPECTRA_NOTE);
  else if (older)
    notes.push(
      `${older} of ${n} runs have no spectra (made by an older version): no ESD figures for them; rerun the sweep with --force to store them`,
    );
  if (off)
    notes.push(
      `${off === n ? 'the runs were' : `${off} of ${n} runs were`} swept with --no-spectra: no ESD figures${off === n ? '' : ' for them'}`,
    );
  return notes;
}

const NO_FIT: EsdFit = { xmin: null, xmax: null, alpha: null };

/**
 * The ESD panel's data (plots/sweep-esd.ts): the stored spectra summarised per layer, matched across
 * checkpoints by name and slice as the heatmap's rows are. Two passes, one checkpoint's spectra in
 * memory at a time. Undefined when no run of the sweep has spectra.
 */
function layerEsdData(
  results: SweepResults,
  points: readonly SummaryPoint[],
  layers: SweepFigureData['layers'],
  stepsParsed: boolean,
): SweepEsdData | undefined {
  const keyOf = (name: string, slice: number | undefined) => `${name}\0${slice ?? ''}`;
  const builder = new LayerEsdBuilder(points.length, SWEEP_ESD_BINS);
  const withSpectra: number[] = [];
  points.forEach((p, i) => {
    const spectra = results.spectra(p.runKey);
    if (!spectra.length) return;
    withSpectra.push(i);
    const fits = new Map(
      results.rows(p.runKey).map((r) => [keyOf(String(r.name), typeof r.slice_id === 'number' ? r.slice_id : undefined), esdFitOf(r)]),
    );
    for (const s of spectra) builder.observe(keyOf(s.name, s.slice_id), i, s.evals, fits.get(keyOf(s.name, s.slice_id)) ?? NO_FIT);
  });
  if (!withSpectra.length) return undefined;
  for (const i of withSpectra) for (const s of results.spectra(points[i]!.runKey)) builder.count(keyOf(s.name, s.slice_id), i, s.evals);
  return {
    bins: SWEEP_ESD_BINS,
    runs: points.map((p) => ({ step: p.step, label: stepLabel(p, stepsParsed), name: stepsParsed ? `step ${p.step}` : p.model })),
    layers: builder.result(layers.map((l) => ({ key: keyOf(l.name, l.slice_id), anchor: layerAnchorOf(l), name: layerLabel(l) }))),
    colors: [...SWEEP_ESD_COLORS],
  };
}

/** A sweep that did not finish: what it has and what it lacks. */
export interface SweepIncomplete {
  /** Distinct models of the sweep, and how many have a result (done, failed) or none yet. */
  readonly models: number;
  readonly done: number;
  readonly failed: number;
  readonly unfinished: number;
  /** The sweep record's status: 'running' when the command never finished (killed, stopped), 'failed' when it stopped on an error. */
  readonly status: string;
}

function incompleteNote(i: SweepIncomplete, sweepId: number | null): string {
  const why =
    i.status === 'running'
      ? 'the sweep command did not finish (stopped, killed, or still running)'
      : i.status === 'failed'
        ? 'the sweep command stopped on an error'
        : 'some models have no result';
  return `${sweepId === null ? 'this sweep' : `sweep ${sweepId}`} is incomplete: ${i.done} of ${i.models} models analysed${i.failed ? `, ${i.failed} failed` : ''}, ${i.unfinished} not analysed; ${why}. Run the same sweep command again to finish it (what is stored is not redone)`;
}

function describeSweep(options: Record<string, unknown>, changed: string[]): string {
  return changed.length ? `options: ${changed.map((k) => `${k}=${JSON.stringify(options[k])}`).join(', ')}` : 'default options';
}

/** Build the report of a sweep and write the requested outputs. */
export async function sweepReport(opts: SweepReportOptions): Promise<SweepReport> {
  const results = openResultsSync(opts.db);
  let data: SweepFigureData;
  const notes: string[] = [];
  let description: string;
  let incomplete: SweepIncomplete | undefined;
  let esd: SweepEsdData | undefined;
  try {
    const sweeps = results.sweeps();
    if (!sweeps.length)
      throw new WeightWatcherError('E_EMPTY', `${opts.db}: no sweep recorded yet (run 'weightwatcher sweep … --db ${opts.db}')`, {
        file: opts.db,
      });
    const sel = opts.sweep ?? 'latest';
    const info =
      sel === 'all' ? sweeps[sweeps.length - 1]! : sel === 'latest' ? sweeps[sweeps.length - 1]! : sweeps.find((s) => s.sweepId === sel);
    if (!info)
      throw new WeightWatcherError(
        'E_NOT_FOUND',
        `${opts.db}: no sweep ${String(sel)} (sweeps: ${sweeps.map((s) => s.sweepId).join(', ')})`,
        { file: opts.db },
      );
    if (sel !== 'all') {
      // A sweep that was stopped (killed, Ctrl-C, a lost machine) must not read as a finished one.
      const pr = results.progress({ sweep: info.sweepId });
      if (!pr.complete) {
        incomplete = { models: pr.models, done: pr.done, failed: pr.failed, unfinished: pr.unfinished, status: pr.status };
        notes.unshift(incompleteNote(incomplete, info.sweepId));
      }
    }
    const points = results.summarySeries({ sweep: sel });
    if (!points.length) throw new WeightWatcherError('E_EMPTY', `${opts.db}: sweep ${String(sel)} has no analysed run`, { file: opts.db });
    const failed = results.runs({ sweep: sel, status: 'failed' });
    for (const f of failed) notes.push(`failed: ${f.model}: ${f.error ?? 'unknown error'}`);
    // Models given by name: which repo revision and commit each was (the snapshot is the coordinator's cache).
    const said = new Set<string>();
    for (const r of results.runs({ sweep: sel }))
      if (r.origin && !said.has(r.runKey) && said.add(r.runKey))
        notes.push(
          `${r.model}: ${r.origin.repo}@${r.origin.revision} commit ${r.origin.commit} (${r.origin.files?.join(', ') ?? r.origin.snapshot})`,
        );
    const optionsHashes = new Set(results.runs({ sweep: sel }).map((r) => r.optionsHash));
    if (optionsHashes.size > 1) notes.push(`the runs were made with ${optionsHashes.size} different option sets`);
    const defaults = DEFAULTS as unknown as Record<string, unknown>;
    const changed = Object.keys(info.options).filter((k) => JSON.stringify(info.options[k]) !== JSON.stringify(defaults[k]));
    description = `${sel === 'all' ? 'all sweeps' : `sweep ${info.sweepId}`} (${info.startedAt.slice(0, 19).replace('T', ' ')}), ${describeSweep(info.options, changed)}`;
    data = {
      points,
      layers: results.rowsByLayer({ sweep: sel }),
      stepsParsed: sel === 'all' ? sweeps.every((s) => s.stepsParsed) : info.stepsParsed,
    };
    notes.push(...spectraNotes(results, points));
    if (opts.report) esd = layerEsdData(results, points, data.layers, data.stepsParsed);
  } finally {
    results.close();
  }
  const movers = alphaMovers(data.layers, opts.top ?? 12);
  const files: string[] = [];
  const specs = sweepFigureSpecs(data, movers);
  const svgs: Record<string, string> = {};
  if (opts.plot || opts.report) for (const [name, spec] of Object.entries(specs)) svgs[name] = await renderSvg(spec);
  if (opts.plot) {
    await makeDirectory(opts.plot);
    for (const [name, svg] of Object.entries(svgs)) {
      const base = join(opts.plot, `sweep.${name}`);
      await writeFileAtomic(`${base}.svg`, svg);
      await writeFileAtomic(`${base}.png`, svgToPng(svg, opts.png));
      files.push(`${base}.svg`, `${base}.png`);
    }
  }
  if (opts.report) {
    await makeDirectory(dirname(resolve(opts.report)));
    // The ESD panel's template compiles with the figures; without the browser runtime there is neither.
    const { 'layer-esd': esdTemplate, ...interactive } = await interactiveSpecs({
      ...specs,
      ...(esd ? { 'layer-esd': sweepEsdSpec() } : {}),
    });
    await writeFileAtomic(
      opts.report,
      sweepReportHtml({
        title: `WeightWatcher sweep: ${opts.db}`,
        db: opts.db,
        description,
        points: data.points,
        stepsParsed: data.stepsParsed,
        movers,
        figures: svgs,
        interactive,
        notes,
        ...(esd && esdTemplate ? { esdPanel: sweepEsdPanelHtml(esd, esdTemplate) } : {}),
      }),
    );
    files.push(opts.report);
  }
  const text = formatSweepText(data, movers, description, notes);
  return {
    data,
    movers,
    text: incomplete ? `INCOMPLETE: ${incompleteNote(incomplete, null)}\n${text}` : text,
    files,
    notes,
    ...(incomplete ? { incomplete } : {}),
    ...(esd ? { esd } : {}),
  };
}

/** The text summary: one line per step (counts and mean alpha), then the movers. */
export function formatSweepText(
  data: SweepFigureData,
  movers: readonly AlphaMover[],
  description: string,
  notes: readonly string[],
): string {
  const head = ['step', 'model', 'layers', 'α<2', 'α>6', 'alpha', 'alpha_weighted', 'log_norm'];
  const rows = data.points.map((p) => [
    String(p.step),
    p.model,
    String(p.layers),
    String(p.below2),
    String(p.above6),
    fmt(p.summary.alpha ?? NaN),
    fmt(p.summary.alpha_weighted ?? NaN),
    fmt(p.summary.log_norm ?? NaN),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [description, '', line(head), ...rows.map(line), ''];
  if (movers.length) {
    out.push(`layers whose alpha moved most (max − min over ${data.stepsParsed ? 'steps' : 'models'}):`);
    for (const m of movers) out.push(`  ${formatMover(m)}`);
    out.push('');
  }
  for (const n of notes) out.push(`note: ${n}`);
  return out.join('\n') + (notes.length ? '\n' : '');
}
