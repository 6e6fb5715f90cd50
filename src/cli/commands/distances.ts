/** `weightwatcher distances A B`: per-layer distances between two models (raw, euclidean, cka). */
import { WeightWatcher } from '../../watcher.js';
import { DISTANCE_COLUMNS, DISTANCE_METHODS, type DistanceMethod } from '../../engine/distances.js';
import { renderTable, formatCell } from '../../report/table.js';
import { jsonSafe, toCsv } from '../../report/output.js';
import { OUTPUT_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions, usageError } from '../args.js';
import { MODEL_ARGUMENT, parseCommandArgs, type Command } from '../command.js';
import { tableOutputs, write } from '../output.js';
import { checkOutputs } from '../output-paths.js';
import { VERSION } from '../version.js';
import { MODEL_SOURCE_OPTIONS, modelSourceOf } from '../model-source-options.js';

export const distances: Command = {
  name: 'distances',
  summary: 'per-layer distances between two models (raw, euclidean, cka)',
  usage: 'A B [options]',
  description: `A, B: ${MODEL_ARGUMENT.replace(/^<model>: /, '').replace(/\n\s+/g, ' ')}

Rows per layer: delta_W (raw: ‖W_A − W_B‖ of the stored tensors, euclidean: the same over the layer's
matrices, mean over conv slices; cka: the reference's uncentered CKA, 1 = identical), delta_b
(raw: ‖b_A − b_B‖ when both have biases), M, N, b_shape, and the two averages. Layers pair by name;
layers of either model without a partner (or with a partner of another shape) are listed.`,
  options: [
    {
      title: 'distance',
      options: {
        method: { type: 'string', value: 'raw|euclidean|cka', description: 'what delta_W measures', default: 'raw' },
        pairing: {
          type: 'string',
          value: 'name|position',
          description: "pair layers by name, or by position like the reference's zip",
          default: 'name',
        },
      },
    },
    { title: 'selection', options: SELECTION_OPTIONS },
    {
      title: 'output',
      options: {
        json: {
          ...OUTPUT_OPTIONS.json,
          description: "write {method, pairing, avg_dW, avg_db, rows, unmatched, meta} as JSON ('-' = stdout)",
        },
        csv: { ...OUTPUT_OPTIONS.csv, description: "write the rows as CSV ('-' = stdout)" },
        quiet: OUTPUT_OPTIONS.quiet,
      },
    },
    { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
  ],
  examples: [
    'distances init/model.safetensors trained/model.safetensors',
    'distances base ./finetuned --method cka --csv cka.csv',
    'distances a.safetensors b.onnx --pairing position --json -',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(distances, argv);
    if (positionals.length !== 2) throw usageError(`distances takes exactly two model paths, got ${positionals.length}`);
    const [a, b] = positionals as [string, string];
    const method = (str(values, 'method') ?? 'raw').toLowerCase();
    if (!(DISTANCE_METHODS as readonly string[]).includes(method))
      throw usageError(`--method must be one of ${DISTANCE_METHODS.join(', ')}, got '${method}'`);
    const pairing = str(values, 'pairing') ?? 'name';
    if (pairing !== 'name' && pairing !== 'position') throw usageError(`--pairing must be 'name' or 'position', got '${pairing}'`);
    const opts = toAnalyzeOptions(values);
    await checkOutputs(tableOutputs(values), [a, b]);
    const res = await new WeightWatcher(a, modelSourceOf(values, io)).distances(b, {
      ...opts,
      method: method as DistanceMethod,
      pairing: pairing,
    });
    const meta = { tool: `weightwatcher (TypeScript) ${VERSION}`, model: a, other: b, options: opts, skipped: res.skipped };
    const json = str(values, 'json');
    const csv = str(values, 'csv');
    if (json) await write(json, JSON.stringify(jsonSafe({ ...res, meta }), null, 2) + '\n', io);
    if (csv) await write(csv, toCsv(res.rows, DISTANCE_COLUMNS), io);
    if (!values.quiet && json !== '-' && csv !== '-') {
      const cols: [string, string][] = [
        ['layer_id', 'id'],
        ['name', 'name'],
        ['M', 'M'],
        ['N', 'N'],
        ['delta_W', `delta_W (${method})`],
        ['delta_b', 'delta_b'],
        ['b_shape', 'b_shape'],
        ['slice_id', 'slice'],
      ];
      if (res.rows.length)
        io.stdout.write(
          renderTable(res.rows, { color: false, columns: cols.filter(([k]) => k !== 'slice_id' || res.rows.some((r) => 'slice_id' in r)) }),
        );
      io.stdout.write(
        `\n${res.rows.length} rows (layers paired by ${pairing}); avg delta_W ${formatCell(res.avg_dW)}, avg delta_b ${formatCell(res.avg_db)}\n`,
      );
      if (res.unmatched.length) {
        io.stdout.write(`${res.unmatched.length} layers not compared:\n`);
        for (const u of res.unmatched)
          io.stdout.write(`  ${u.side === 'model' ? 'A' : 'B'} ${String(u.layer_id).padStart(5)}  ${u.name}: ${u.reason}\n`);
      }
    }
    if (res.rows.length === 0) {
      io.stderr.write(`weightwatcher: error: no layer of ${a} could be paired with a layer of ${b}\n`);
      return 1;
    }
    return 0;
  },
};
