/** `weightwatcher models`: the models in the Hugging Face cache, with revisions, size, format and whether they can be analysed. */
import { usageError, str, type OptionSpecs } from '../args.js';
import { parseCommandArgs, type Command } from '../command.js';
import { write } from '../output.js';
import { cacheLocations } from '../../hub/cache.js';
import { listCachedModels } from '../../hub/models.js';
import { MODEL_SOURCE_OPTIONS } from '../model-source-options.js';
import { escapeControl } from '../../shared/text.js';

const MODELS_OPTIONS = {
  json: { type: 'string', value: 'FILE', description: "write the list as JSON ('-' = stdout)" },
  'cache-dir': MODEL_SOURCE_OPTIONS['cache-dir'],
} as const satisfies OptionSpecs;

const size = (b: number) =>
  b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GB` : b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} kB`;

export const models: Command = {
  name: 'models',
  summary: 'the models in the Hugging Face cache: revisions, size, format, analysable',
  usage: '[options]',
  description: `Lists every model in the Hugging Face caches (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
$XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub; or --cache-dir): one line per cached
revision with its branches and tags, the size of its files, the weight format an analysis would use,
and whether every file it needs is there (a partly cached sharded model is not). Makes no request.`,
  options: [{ title: 'options', options: MODELS_OPTIONS }],
  examples: ['models', 'models --json -', 'models --cache-dir /data/hf'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(models, argv);
    if (positionals.length) throw usageError(`models takes no arguments, got ${positionals.join(' ')}`);
    const cacheDir = str(values, 'cache-dir');
    const locations = cacheLocations(cacheDir);
    const list = await listCachedModels(locations);
    const json = str(values, 'json');
    if (json !== undefined) await write(json, JSON.stringify({ caches: locations, models: list }, null, 1) + '\n', io);
    if (json === '-') return 0;
    if (!list.length) {
      io.stdout.write(`no models in ${locations.join(', ')}\n`);
      return 0;
    }
    const rows = list.flatMap((m) =>
      (m.revisions.length ? m.revisions : [undefined]).map((r) => [
        escapeControl(m.repo),
        r ? escapeControl(r.refs.join(',') || '-') : '-',
        r ? r.commit.slice(0, 12) : '-',
        r ? size(r.size) : size(m.size),
        r ? r.format : 'none',
        r ? (r.analysable ? 'yes' : `no: ${escapeControl(r.reason ?? '')}`) : 'no: no snapshot',
      ]),
    );
    const head = ['model', 'refs', 'commit', 'size', 'format', 'analysable'];
    const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
    const line = (cells: string[]) => cells.map((c, j) => (j === cells.length - 1 ? c : c.padEnd(widths[j]!))).join('  ') + '\n';
    io.stdout.write(line(head) + rows.map(line).join(''));
    const total = list.reduce((s, m) => s + m.size, 0);
    io.stdout.write(`${list.length} models, ${size(total)} on disk in ${[...new Set(list.map((m) => m.cache))].join(', ')}\n`);
    return 0;
  },
};
