/** `weightwatcher describe <model>`: the layers analyze would use, from shapes only (no SVD). */
import { WeightWatcher } from '../../watcher.js';
import { renderTable } from '../../report/table.js';
import { MODEL_DIFF_OPTIONS, OUTPUT_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions } from '../args.js';
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
  ],
  examples: ['describe model.safetensors', 'describe ./my-hf-model --layers dense --csv -', 'describe model.onnx --no-pool --min-evals 1', 'describe ./lora-adapter --peft'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(describe, argv);
    const path = modelArg(positionals, 'describe');
    const baseModel = str(values, 'base-model');
    const ww = new WeightWatcher(path, baseModel === undefined ? {} : { baseModel });
    const rows = await ww.describe(toAnalyzeOptions(values));
    await writeOutputs(values, { details: rows, summary: {}, meta: { source: path, ...(baseModel === undefined ? {} : { base_model: baseModel }), skipped: ww.lastRun?.skipped ?? [] } }, io);
    if (tableWanted(values)) {
      const cols: [string, string][] = [['layer_id', 'id'], ['name', 'name'], ['layer_type', 'type'], ['N', 'N'], ['M', 'M'], ['Q', 'Q'], ['rf', 'rf'], ['num_evals', 'num_evals'], ['slice_id', 'slice'], ['peft', 'peft']];
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
