/**
 * Memory on hostile metadata: headers with a million entries. Generates, in a temp folder,
 *   - a safetensors file whose JSON header lists 1M tiny tensors (~84 MB of header),
 *   - an ONNX model with 1M tiny initializers (~23 MB),
 * then runs `weightwatcher describe` and `weightwatcher analyze` on each under /usr/bin/time -v and
 * prints peak RSS and wall time, for this build and optionally an older one (same script, same
 * machine, so the ratios are meaningful even while other work shares the cores).
 *
 *   npx vite-node bench/hostile-metadata.bench.ts                      # this checkout
 *   npx vite-node bench/hostile-metadata.bench.ts -- --before /tmp/old # and an older build (package folder)
 *   npx vite-node bench/hostile-metadata.bench.ts -- --entries 250000  # smaller files
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const before = opt('--before');
const entries = Number(opt('--entries') ?? 1_000_000);
const builds: [string, string][] = [
  ...(before ? [['before', resolve(before)] as [string, string]] : []),
  ['this build', resolve(import.meta.dirname, '..')],
];

/** 1M entries `{"layers.N.attn.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[a,b]}}`, each tensor 16 bytes. */
function writeSafetensors(path: string, n: number): void {
  const parts: string[] = [];
  for (let i = 0; i < n; i++)
    parts.push(`"layers.${i}.attn.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[${i * 16},${i * 16 + 16}]}`);
  let header = `{${parts.join(',')}}`;
  while ((8 + header.length) % 8) header += ' ';
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, len);
  writeSync(fd, Buffer.from(header));
  const data = Buffer.alloc(16 * 65536);
  for (let done = 0; done < n; done += 65536) writeSync(fd, data, 0, 16 * Math.min(65536, n - done));
  closeSync(fd);
}

function varint(v: number): number[] {
  const out: number[] = [];
  do {
    const b = v & 0x7f;
    v = Math.floor(v / 128);
    out.push(v ? b | 0x80 : b);
  } while (v);
  return out;
}

/** ONNX ModelProto { ir_version, graph { initializer × n: dims [1], data_type FLOAT, name, raw_data 4 bytes } }. */
function writeOnnx(path: string, n: number): void {
  const tensors: Buffer[] = [];
  let size = 0;
  for (let i = 0; i < n; i++) {
    const name = Buffer.from(`w${i}`);
    const body = Buffer.from([0x08, 0x01, 0x10, 0x01, 0x42, ...varint(name.length), ...name, 0x4a, 0x04, 0, 0, 0x80, 0x3f]);
    const t = Buffer.concat([Buffer.from([0x2a, ...varint(body.length)]), body]);
    tensors.push(t);
    size += t.length;
  }
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.from([0x08, 0x08, 0x3a, ...varint(size)]));
  for (let i = 0; i < tensors.length; i += 65536) writeSync(fd, Buffer.concat(tensors.slice(i, i + 65536)));
  closeSync(fd);
}

function measure(root: string, argv: string[]): { rssMb: number; seconds: number; code: number; line: string } {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, join(root, 'dist/cli/main.js'), ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  const status = /Exit status: (\d+)/.exec(r.stderr)?.[1];
  const line = (r.stderr.split('\n').find((l) => l.startsWith('weightwatcher')) ?? r.stdout.trim().split('\n').pop() ?? '').slice(0, 100);
  return { rssMb: Number(rss) / 1024, seconds, code: Number(status ?? r.status), line };
}

const dir = mkdtempSync(join(tmpdir(), 'ww-hostile-'));
try {
  const st = join(dir, 'header.safetensors');
  const onnx = join(dir, 'many.onnx');
  writeSafetensors(st, entries);
  writeOnnx(onnx, entries);
  const mb = (p: string) => (statSync(p).size / 2 ** 20).toFixed(1);
  console.log(
    `machine: ${execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim()}, node ${process.version}`,
  );
  console.log(`files: ${st} (${mb(st)} MB, ${entries} entries), ${onnx} (${mb(onnx)} MB, ${entries} initializers)\n`);
  console.log(`| file | command | ${builds.map(([n]) => `${n}: peak RSS · wall · exit`).join(' | ')} |`);
  console.log(`|---|---|${builds.map(() => '---').join('|')}|`);
  const count = entries >= 1e6 && entries % 1e6 === 0 ? `${entries / 1e6}M` : String(entries);
  for (const [label, file] of [
    [`safetensors, ${count}-entry header`, st],
    [`ONNX, ${count} initializers`, onnx],
  ] as const) {
    for (const cmd of ['describe', 'analyze']) {
      const cells = builds.map(([, root]) => {
        const m = measure(root, [cmd, file]);
        return `${m.rssMb.toFixed(0)} MB · ${m.seconds.toFixed(1)} s · ${m.code}`;
      });
      console.log(`| ${label} | ${cmd} | ${cells.join(' | ')} |`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
