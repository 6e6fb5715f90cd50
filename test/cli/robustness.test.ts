/**
 * The CLI under misuse, through the real binary (dist/cli/main.js) in a child process: every case of
 * test/helpers/cli-cases.ts with its exit code, message, time bound (a case still running after
 * 10 s is killed and fails) and the files that must survive. Then SIGINT during a long JSON write,
 * 20 times: the previous file is intact every time and no temporary file is left.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures, CLI_CASES, runCase, type Fixtures } from '../helpers/cli-cases.js';
import { projectRoot } from '../helpers/corpus.js';

const cli = join(projectRoot, 'dist', 'cli', 'main.js');
const dist = join(projectRoot, 'dist');
const built = existsSync(cli);
if (!built) console.warn(`robustness.test: ${cli} not found (run npm run build); skipping the child-process CLI cases`);
const haveProc = existsSync('/proc/self');
/** A case that runs longer is killed and fails: nothing may hang. */
const CASE_BOUND_MS = 10_000;

let dir: string;
let fixtures: Fixtures;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ww-robust-'));
  fixtures = await buildFixtures(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!built)('CLI misuse cases (real binary, child process)', () => {
  for (const c of CLI_CASES) {
    it.skipIf(c.needsProc && !haveProc)(
      `${c.id}: ${c.what} → exit ${c.expect.code}`,
      async () => {
        const r = await runCase(c, fixtures, cli, dist, CASE_BOUND_MS);
        const context = `stdout:\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr.slice(0, 2000)}`;
        expect(r.signal, `killed after ${CASE_BOUND_MS} ms\n${context}`).toBeNull();
        expect(r.code, context).toBe(c.expect.code);
        if (c.expect.stderr) expect(r.stderr).toMatch(c.expect.stderr);
        if (c.expect.stdout) expect(r.stdout).toMatch(c.expect.stdout);
        if (c.expect.stdoutNot) expect(r.stdout).not.toMatch(c.expect.stdoutNot);
        if (c.expect.quiet) expect(r.stderr).toBe('');
        expect(r.changed, 'protected files were modified').toEqual([]);
        expect(r.present, 'files that must not be written exist').toEqual([]);
        // A usage error is one line, plus the pointer to --help.
        if (c.expect.code === 2 && !c.script) expect(r.stderr.trim().split('\n')).toHaveLength(2);
      },
      30_000,
    );
  }
});

// ------------------------------------------------------------------------------------------------
// SIGINT while the JSON output is being written

/** A safetensors file of `n` 4×4 layers (`describe --min-evals 1` lists every one as a row). */
function manyLayers(path: string, n: number): void {
  const header: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) header[`blocks.${i}.proj.weight`] = { dtype: 'F32', shape: [4, 4], data_offsets: [i * 64, i * 64 + 64] };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(n * 64)]));
}

interface WriteRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When the temporary output file was first and last seen (ms after spawn). */
  tmpSeen: [number, number] | undefined;
  stderr: string;
}

/** Run describe --json into `outDir/out.json`; with `interruptAfter`, SIGINT that many ms after the temporary file appears. */
function describeToJson(model: string, outDir: string, interruptAfter?: number): Promise<WriteRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, 'describe', model, '--min-evals', '1', '--json', join(outDir, 'out.json'), '-q'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let seen: [number, number] | undefined;
    let signalled = false;
    const poll = setInterval(() => {
      if (!readdirSync(outDir).some((f) => f.endsWith('.tmp'))) return;
      const t = performance.now() - started;
      seen = seen ? [seen[0], t] : [t, t];
      if (interruptAfter !== undefined && !signalled && t - seen[0] >= interruptAfter) {
        signalled = true;
        child.kill('SIGINT');
      }
    }, 2);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, tmpSeen: seen, stderr });
    });
  });
}

describe.skipIf(!built)('SIGINT during the JSON write', () => {
  it('leaves the previous file intact and no temporary file, 20 times out of 20', async () => {
    const work = mkdtempSync(join(dir, 'sigint-'));
    const model = join(work, 'many.safetensors');
    const outDir = join(work, 'out');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outDir);
    // Calibrate: the write must last at least a second; grow the model until it does.
    let n = 150_000;
    let writeMs: number;
    for (;;) {
      manyLayers(model, n);
      const r = await describeToJson(model, outDir);
      expect(r.code, r.stderr).toBe(0);
      writeMs = r.tmpSeen ? r.tmpSeen[1] - r.tmpSeen[0] : 0;
      if (writeMs >= 1000 || n >= 1_200_000) break;
      n *= 2;
    }
    console.log(`SIGINT test: ${n} layers, the JSON write takes ~${Math.round(writeMs)} ms`);
    const previous = '{"previous": "result", "must": "survive"}\n';
    const target = join(outDir, 'out.json');
    let interrupted = 0;
    for (let run = 0; run < 20; run++) {
      writeFileSync(target, previous);
      // Spread the interruptions over the write: early, middle, late.
      const at = Math.round(((run % 10) / 10) * writeMs * 0.8);
      const r = await describeToJson(model, outDir, at);
      const left = readdirSync(outDir).filter((f) => f !== 'out.json');
      expect(left, `run ${run}: temporary files left`).toEqual([]);
      if (r.code === 130) {
        interrupted++;
        expect(readFileSync(target, 'utf8'), `run ${run}: the previous file was damaged`).toBe(previous);
      } else {
        // The signal arrived after the rename: the new file must then be complete.
        expect(r.code, r.stderr).toBe(0);
        expect((JSON.parse(readFileSync(target, 'utf8')) as { details: unknown[] }).details.length).toBe(n);
      }
    }
    expect(interrupted, 'runs interrupted during the write').toBeGreaterThanOrEqual(18);
  }, 600_000);

  it('SIGINT during the analysis exits 130 and writes nothing', async () => {
    const work = mkdtempSync(join(dir, 'sigint-early-'));
    const model = join(work, 'many.safetensors');
    manyLayers(model, 200_000);
    const target = join(work, 'r.json');
    writeFileSync(target, 'old\n');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [cli, 'describe', model, '--min-evals', '1', '--json', target, '-q'], { stdio: 'ignore' });
      setTimeout(() => child.kill('SIGINT'), 400);
      child.on('close', (c) => resolve(c));
    });
    expect(code).toBe(130);
    expect(readFileSync(target, 'utf8')).toBe('old\n');
    expect(readdirSync(work).sort()).toEqual(['many.safetensors', 'r.json']);
  }, 60_000);
});

describe.skipIf(!built)('a closed pipe', () => {
  it('`ww describe M --csv - | head -1` ends quietly with exit code 0 (bash, pipefail)', async () => {
    const work = mkdtempSync(join(dir, 'pipe-'));
    const model = join(work, 'many.safetensors');
    manyLayers(model, 20_000); // far more output than a pipe buffer holds
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const script = `set -o pipefail; "${process.execPath}" "${cli}" describe "${model}" --min-evals 1 --csv - | head -1`;
      const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.out).toBe('layer_id,name,M,N,Q,layer_type,longname,num_evals,rf\n');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);
});
