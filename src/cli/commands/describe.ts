/** `weightwatcher describe <model>`: the layers analyze would use, from shapes only (no SVD). */
import { WeightWatcher } from '../../watcher.js';
import { resolveOptions } from '../../shared/options.js';
import { escapeControl } from '../../shared/text.js';
import { renderTable } from '../../report/table.js';
import { MODEL_DIFF_OPTIONS, OUTPUT_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions } from '../args.js';
import { EXIT, MODEL_ARGUMENT, PROGRAM, parseCommandArgs, type Command } from '../command.js';
import { modelArg, tableOutputs, tableWanted, writeOutputs } from '../output.js';
import { MODEL_SOURCE_OPTIONS, modelSourceOf } from '../model-source-options.js';
import { checkOutputs } from '../output-paths.js';
import { writeNotes } from './analyze.js';

/** Skipped layers listed one per line up to this many; the rest are counted (all are in --json meta.skipped). */
const MAX_SKIPPED_LINES = 1000;

export const describe: Command = {
  name: 'describe',
  summary: 'layers that would be analysed, with their shapes (no SVD)',
  usage: '<model> [options]',
  description: `${MODEL_ARGUMENT}

Lists id, name, type, N, M, Q, rf and num_evals per layer, then every skipped layer with its reason
(--json: the rows, and meta.skipped with every skipped layer).`,
  options: [
    { title: 'selection', options: SELECTION_OPTIONS },
    { title: 'fine-tunes and adapters', options: MODEL_DIFF_OPTIONS },
    {
      title: 'output',
      options: {
        json: { ...OUTPUT_OPTIONS.json, description: "write {details, summary, meta} with the rows as JSON ('-' = stdout)" },
        csv: { ...OUTPUT_OPTIONS.csv, description: "write the rows as CSV ('-' = stdout)" },
        'no-color': OUTPUT_OPTIONS['no-color'],
        quiet: OUTPUT_OPTIONS.quiet,
      },
    },
    { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
  ],
  examples: [
    'describe model.safetensors',
    'describe ./my-hf-model --layers dense --csv -',
    'describe model.onnx --no-pool --min-evals 1',
    'describe weights.npz --all-tensors',
    'describe ./lora-adapter --peft',
    'describe openai-community/gpt2 --offline',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(describe, argv);
    const path = modelArg(positionals, 'describe');
    const baseModel = str(values, 'base-model');
    const opts = toAnalyzeOptions(values);
    resolveOptions(opts);
    await checkOutputs(tableOutputs(values), baseModel === undefined ? [path] : [path, baseModel]);
    const ww = new WeightWatcher(path, { ...(baseModel !== undefined && { baseModel }), ...modelSourceOf(values, io) });
    const rows = await ww.describe(opts);
    const run = ww.lastRun!;
    writeNotes(run, io);
    const meta = () => ({
      source: run.source,
      format: run.format,
      ...(baseModel === undefined ? {} : { base_model: baseModel }),
      status: run.status,
      ...(run.explanation !== undefined && { explanation: run.explanation }),
      ...(run.notes.length && { notes: run.notes }),
      skipped: run.skips,
    });
    await writeOutputs(values, { details: rows, summary: {}, meta }, io);
    if (tableWanted(values)) {
      const cols: [string, string][] = [
        ['layer_id', 'id'],
        ['name', 'name'],
        ['layer_type', 'type'],
        ['N', 'N'],
        ['M', 'M'],
        ['Q', 'Q'],
        ['rf', 'rf'],
        ['num_evals', 'num_evals'],
        ['slice_id', 'slice'],
        ['peft', 'peft'],
      ];
      io.stdout.write(
        rows.length ? renderTable(rows, { color: false, columns: cols.filter(([k]) => rows.some((r) => k in r)) }) : 'no layer qualified\n',
      );
      io.stdout.write(`${rows.length} layers\n`);
      const skipped = run.skips;
      if (skipped.length) {
        const lines = skipped
          .slice(0, MAX_SKIPPED_LINES)
          .map((s) => `  ${String(s.layer_id).padStart(5)}  ${escapeControl(s.name)}: ${escapeControl(s.reason)}\n`);
        const rest = skipped.length - lines.length;
        io.stdout.write(
          `${skipped.length} skipped:\n${lines.join('')}${rest > 0 ? `  … and ${rest} more (every one in --json meta.skipped)\n` : ''}`,
        );
      }
    }
    if (run.status === 'empty') {
      io.stderr.write(
        `${PROGRAM}: error: nothing to analyse in ${escapeControl(run.source)}: ${escapeControl(run.explanation ?? 'no layer qualified')}\n`,
      );
      return EXIT.failure;
    }
    return EXIT.ok;
  },
};
