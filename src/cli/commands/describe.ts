/** `weightwatcher describe <model>`: the layers analyze would use, from shapes only (no SVD). */
import { WeightWatcher } from '../../watcher.js';
import { renderTable } from '../../report/table.js';
import { OUTPUT_OPTIONS, SELECTION_OPTIONS, toAnalyzeOptions } from '../args.js';
import { MODEL_ARGUMENT, parseCommandArgs, type Command } from '../command.js';
import { modelArg, tableWanted, writeOutputs } from '../output.js';

export const describe: Command = {
  name: 'describe',
  summary: 'layers that would be analysed, with their shapes (no SVD)',
  usage: '<model> [options]',
  description: `${MODEL_ARGUMENT}

Lists id, name, type, N, M, Q, rf and num_evals per layer, then every skipped layer with its reason.`,
  options: [
    { title: 'selection', options: SELECTION_OPTIONS },
    {
      title: 'output',
      options: {
        json: { ...OUTPUT_OPTIONS.json, description: "write {details, summary, meta} with the rows as JSON ('-' = stdout)" },
        csv: { ...OUTPUT_OPTIONS.csv, description: "write the rows as CSV ('-' = stdout)" },
        'no-color': OUTPUT_OPTIONS['no-color'],
        quiet: OUTPUT_OPTIONS.quiet,
      },
    },
  ],
  examples: ['describe model.safetensors', 'describe ./my-hf-model --layers dense --csv -', 'describe model.onnx --no-pool --min-evals 1'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(describe, argv);
    const path = modelArg(positionals, 'describe');
    const ww = new WeightWatcher(path);
    const rows = await ww.describe(toAnalyzeOptions(values));
    await writeOutputs(values, { details: rows, summary: {}, meta: { source: path } }, io);
    if (tableWanted(values)) {
      const cols: [string, string][] = [['layer_id', 'id'], ['name', 'name'], ['layer_type', 'type'], ['N', 'N'], ['M', 'M'], ['Q', 'Q'], ['rf', 'rf'], ['num_evals', 'num_evals'], ['slice_id', 'slice']];
      io.stdout.write(rows.length ? renderTable(rows, { color: false, columns: cols.filter(([k]) => rows.some((r) => k in r)) }) : 'no layer qualified\n');
      io.stdout.write(`${rows.length} layers\n`);
      const skipped = ww.lastRun?.skipped ?? [];
      if (skipped.length) {
        io.stdout.write(`${skipped.length} skipped:\n`);
        for (const s of skipped) io.stdout.write(`  ${String(s.layer_id).padStart(5)}  ${s.name}: ${s.reason}\n`);
      }
    }
    return 0;
  },
};
