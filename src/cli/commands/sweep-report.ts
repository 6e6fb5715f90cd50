/** `weightwatcher sweep-report --db FILE`: a sweep's heatmap, metrics over steps and movers. */
import { PLOT_SCALE_OPTION, type OptionSpecs } from '../args.js';
import { parseCommandArgs, type Command } from '../command.js';

const REPORT_OPTIONS = {
  db: { type: 'string', value: 'FILE.sqlite', description: 'results database written by sweep; required' },
  plot: {
    type: 'string',
    value: 'DIR',
    description: 'write sweep.alpha-heatmap, sweep.alpha-counts, sweep.summary, sweep.alpha-movers (SVG + PNG)',
  },
  'plot-scale': PLOT_SCALE_OPTION,
  report: { type: 'string', value: 'FILE.html', description: 'self-contained HTML report with the figures and tables' },
  sweep: {
    type: 'string',
    value: 'ID|latest|all',
    description: 'which sweep (all: every run, at the step of its latest sweep)',
    default: 'latest',
  },
  top: { type: 'string', value: 'N', description: 'how many of the layers whose alpha moved most to list', default: '12' },
} as const satisfies OptionSpecs;

export const sweepReport: Command = {
  name: 'sweep-report',
  summary: "a sweep's alpha heatmap, metrics over steps and movers",
  usage: '--db FILE.sqlite [options]',
  description: `Prints, per step, the layers with alpha < 2 and > 6 and the mean alpha, then the layers whose
alpha moved most (max − min over the steps). --plot and --report draw the alpha heatmap (layers in
model order × steps), the summary metrics and the α counts over steps, and the movers. A sweep that
did not finish (killed, stopped) is reported as INCOMPLETE, with how many of its models have results.`,
  options: [{ title: 'report', options: REPORT_OPTIONS }],
  examples: ['sweep-report --db runs.sqlite', 'sweep-report --db runs.sqlite --plot figs/ --report sweep.html'],
  async run(argv, io) {
    return (await import('../sweep-run.js')).runSweepReport(parseCommandArgs(sweepReport, argv), io);
  },
};
