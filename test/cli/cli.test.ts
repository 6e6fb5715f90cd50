/** The command line: subcommands, outputs, exit codes and error messages. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/main.js';
import { commandHelp, commandOptions } from '../../src/cli/command.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { dense } from '../helpers/formula.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = writeSafetensors(join(dir, 'model.safetensors'), [
  { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60) },
  { name: 'fc2.weight', shape: [60, 40], data: dense(60, 40, 0.2, 0.1) },
  { name: 'ln.weight', shape: [60], data: new Float32Array(60).fill(1) },
]);

const run = runCli;

describe('weightwatcher CLI', () => {
  it('analyze prints the table and summary, writes JSON and CSV', async () => {
    const json = join(dir, 'out.json');
    const csv = join(dir, 'out.csv');
    const r = await run('analyze', model, '--json', json, '--csv', csv);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^id\s+name\s+type\s+N\s+M\s+alpha\s+D\s+xmin\s+log_spec_norm\s+alpha_w\s+stable_rank\s+warning/);
    expect(r.out).toMatch(/summary \(mean over layers\)/);
    expect(r.out).toMatch(/2 layers: \d with alpha < 2 \(over-trained\), \d with alpha > 6/);
    expect(r.out).toMatch(/1 skipped .*\n\s+1 × not a dense\/conv layer/);
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as {
      details: Record<string, unknown>[];
      summary: Record<string, number>;
      meta: Record<string, unknown>;
    };
    expect(parsed.details.map((d) => d.name)).toEqual(['fc1', 'fc2']);
    expect(Object.keys(parsed.details[0]!).slice(0, 4)).toEqual(['layer_id', 'name', 'D', 'M']);
    expect(parsed.summary.alpha).toBeTypeOf('number');
    expect(parsed.meta).toMatchObject({ format: 'safetensors', skipped: [{ layer_id: 2, name: 'ln' }] });
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines.length).toBe(3);
    expect(lines[0]!.startsWith('layer_id,name,D,M,N,Q,alpha')).toBe(true);
  });

  it('--svd-method and --threads: routes in meta, the thread cap as a one-line note', async () => {
    const json = join(dir, 'routes.json');
    const r = await run('analyze', model, '--threads', '999', '--json', json);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^weightwatcher: note: threads=999 is more than the \d+ cores of this machine: using \d+\n/);
    expect(r.out).toMatch(/spectra: gram/);
    const meta = (JSON.parse(readFileSync(json, 'utf8')) as { meta: Record<string, unknown> }).meta;
    expect(meta).toMatchObject({
      routes: expect.any(Object),
      route_fallbacks: expect.any(Array),
      threads: { budget: expect.any(Number), notice: expect.any(String) },
    });
    const a = await run('analyze', model, '--svd-method', 'accurate', '--json', json, '-q');
    expect(a.err).toBe('');
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as { details: Record<string, unknown>[]; meta: Record<string, unknown> };
    expect(parsed.details.map((d) => d.svd_route)).toEqual(['gesdd', 'gesdd']);
    expect(parsed.meta.routes).toEqual({ gesdd: 2 });
  });

  it('option flags reach the analysis (--layers, --min-evals, --xmax -1)', async () => {
    const json = join(dir, 'sel.json');
    expect((await run('analyze', model, '--layers', '1', '--json', json, '-q')).code).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as { details: { name: string }[] }).details.map((d) => d.name)).toEqual(['fc2']);
    expect((await run('analyze', model, '--min-evals', '50', '--json', json, '-q')).code).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as { details: { name: string }[] }).details.map((d) => d.name)).toEqual(['fc1']);
    const r = await run('analyze', model, '--xmax', '-1', '--json', json, '-q');
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
  });

  it('--json - and --csv - write to stdout instead of the table', async () => {
    const j = await run('analyze', model, '--json', '-');
    expect(j.code).toBe(0);
    expect((JSON.parse(j.out) as { details: unknown[] }).details.length).toBe(2);
    const c = await run('describe', model, '--csv', '-');
    expect(c.out.split('\n')[0]).toBe('layer_id,name,M,N,Q,layer_type,longname,num_evals,rf');
  });

  it('describe and esd', async () => {
    const d = await run('describe', model);
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/fc1\s+dense\s+100\s+60/);
    expect(d.out).toMatch(/1 skipped:\n\s+2 {2}ln: 1-D tensor \[60\]: not a weight matrix/);
    const e = await run('esd', model, '--layer', 'fc2');
    expect(e.code).toBe(0);
    expect(e.out.trim().split('\n').length).toBe(40);
    expect(e.err).toMatch(/40 eigenvalues/);
  });

  it('exit codes: 2 for bad usage, 1 for failures, with clear messages', async () => {
    expect((await run()).code).toBe(2);
    const unknown = await run('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command 'frobnicate'/);
    const badFlag = await run('analyze', model, '--min-evals', 'ten');
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toMatch(/--min-evals expects an integer, got 'ten'/);
    const badCombo = await run('analyze', model, '--xmax', 'force');
    expect(badCombo.code).toBe(2);
    expect(badCombo.err).toMatch(/xmax='force' requires pl_package='powerlaw'/);
    const missing = await run('analyze', join(dir, 'nope.safetensors'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.safetensors: no such file or folder/);
    const noLayer = await run('esd', model, '--layer', '99');
    expect(noLayer.code).toBe(1);
    expect(noLayer.err).toMatch(/no layer with id 99/);
  });

  it('info reports the native build', async () => {
    const r = await run('info');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ blas: 'OpenBLAS', coreType: expect.any(String) });
  });
});

describe('help', () => {
  it('every command documents every option its parser accepts, with examples', () => {
    for (const cmd of COMMANDS) {
      const help = commandHelp(cmd);
      expect(help.startsWith(`usage: weightwatcher ${cmd.name}`)).toBe(true);
      for (const [name, o] of Object.entries(commandOptions(cmd))) {
        expect(help, `${cmd.name} --${name}`).toContain(
          `--${name}${o.value ? (o.implicit !== undefined ? ` [${o.value}]` : ` ${o.value}`) : ''}`,
        );
        expect(help, `${cmd.name} --${name}`).toContain(o.description);
      }
      expect(help).toContain('-h, --help');
      expect(cmd.examples.length, cmd.name).toBeGreaterThan(0);
      for (const e of cmd.examples) expect(e.startsWith(cmd.name), e).toBe(true);
    }
  });

  it('--help and -h anywhere win over running; help <command>; the overview lists the commands', async () => {
    const h = await run('analyze', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^usage: weightwatcher analyze <model>/);
    expect(h.out).toMatch(/--min-evals N\s+skip layers with fewer eigenvalues \(default: 10\)/);
    const missing = await run('analyze', join(dir, 'nope.safetensors'), '-h');
    expect(missing).toMatchObject({ code: 0, err: '' });
    expect(missing.out).toBe(h.out);
    expect((await run('help', 'esd')).out).toBe((await run('esd', '--help')).out);
    const overview = await run('--help');
    expect(overview.code).toBe(0);
    for (const cmd of COMMANDS) expect(overview.out).toMatch(new RegExp(`^  ${cmd.name} .*${cmd.summary.replace(/[()]/g, '\\$&')}$`, 'm'));
    const badHelp = await run('help', 'frobnicate');
    expect(badHelp.code).toBe(2);
    expect(badHelp.err).toMatch(new RegExp(`unknown command 'frobnicate' \\(${COMMANDS.map((c) => c.name).join(', ')}\\)`));
  });

  it("a usage error points to the command's help", async () => {
    const r = await run('analyze', model, '--bogus');
    expect(r.code).toBe(2);
    expect(r.err).toBe("weightwatcher: usage error: unknown option --bogus\nrun 'weightwatcher analyze --help' for its options\n");
    expect((await run('describe', model, '--min-evals')).err).toMatch(/--min-evals needs a value/);
  });
});

const cliJs = resolve(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

function runBuilt(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cliJs, ...argv], { encoding: 'utf8' }, (e, out, err) =>
      done({ code: e ? Number(e.code ?? 1) : 0, out, err }),
    );
  });
}

describe.skipIf(!existsSync(cliJs))('the built CLI (dist/cli/main.js; run `npm run build` first)', () => {
  it('ww analyze --help and ww describe --help print usage, options with defaults, and examples', async () => {
    const a = await runBuilt('analyze', '--help');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^usage: weightwatcher analyze <model> \[options\]/);
    expect(a.out).toMatch(/^selection:$/m);
    expect(a.out).toMatch(/--fit PL\|TPL\|E_TPL .*\(default: PL\)/);
    expect(a.out).toMatch(/^examples:\n {2}weightwatcher analyze /m);
    const d = await runBuilt('describe', '--help');
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/^usage: weightwatcher describe <model>/);
    expect(d.out).toContain('--layers LIST');
    expect(d.out).not.toContain('--randomize');
  });

  it('ww analyze <model> --help prints help and does not analyse', async () => {
    const r = await runBuilt('analyze', model, '--help');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^usage: weightwatcher analyze/);
    expect(r.out).not.toMatch(/layers analysed|summary \(mean over layers\)/);
  });

  it('ww help esd, and an unknown command lists the valid ones', async () => {
    const e = await runBuilt('help', 'esd');
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/^usage: weightwatcher esd <model> --layer ID\|NAME/);
    const u = await runBuilt('frobnicate');
    expect(u.code).toBe(2);
    expect(u.out).toBe('');
    expect(u.err).toMatch(new RegExp(`unknown command 'frobnicate' \\(${COMMANDS.map((c) => c.name).join(', ')}\\)`));
  });
});
