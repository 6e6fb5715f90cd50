/**
 * Calibrates the Gram route's error bound δ = C·√n·ε·λmax (native/core/gram.h): for every matrix
 * family of bench/matrices.ts and many shapes (square, tall and wide, n = 32 … 2048), the largest
 * |λ̂ᵢ − σᵢ²| between the plain Gram eigenvalues and ?gesdd's, in units of √n·ε·λmax (ε = 2⁻⁵³).
 * The guard's C must exceed every ratio printed here with a wide margin.
 *
 *   npm run bench:gram-error              # n up to 1024
 *   npm run bench:gram-error -- --max-n 2048
 *   npm run bench:gram-error -- --min-n 4096 --max-n 4096 --max-elements 33554432 --families gaussian,int8
 *   (n ≥ 3072 takes the two-stage eigensolver: check it separately like this)
 */
import { svdvalsDetailed } from '../src/native/binding.js';
import { FAMILIES, makeMatrix } from './matrices.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const maxN = Number(opt('max-n') ?? 0) || 1024;
const minN = Number(opt('min-n') ?? 0) || 32;
const maxElements = Number(opt('max-elements') ?? 0) || 2048 * 2048 * 2;
const families = opt('families') ? (opt('families')!.split(',') as (typeof FAMILIES)[number][]) : FAMILIES;
const U = 2 ** -53;
const C_USED = 32; // kGramErrorC in native/core/gram.h

const sizes = [32, 64, 128, 256, 512, 1024, 2048, 3072, 4096, 8192].filter((n) => n >= minN && n <= maxN);
let worst = { ratio: 0, what: '' };
const byFamily = new Map<string, number>();
const byN = new Map<number, number>();
console.log(`family       shape        max|Δλ|/(√n·ε·λmax)   κ(λ)`);
for (const family of families) {
  for (const n of sizes) {
    for (const q of [1, 2, 4, 8]) {
      if (n * n * q > maxElements) continue;
      for (const wide of [false, true]) {
        const [rows, cols] = wide ? [n, n * q] : [n * q, n];
        if (wide && q === 1) continue;
        const w = makeMatrix(family, rows, cols, n * 31 + q);
        const g = await svdvalsDetailed(w, rows, cols, { method: 'fast', forceGram: true });
        const a = await svdvalsDetailed(w, rows, cols, { method: 'accurate' });
        const lmax = a.evals[a.evals.length - 1]!;
        let d = 0;
        for (let i = 0; i < a.evals.length; i++) d = Math.max(d, Math.abs(g.evals[i]! - a.evals[i]!));
        const ratio = lmax > 0 ? d / (Math.sqrt(n) * U * lmax) : 0;
        const kappa = a.evals[0]! > 0 ? lmax / a.evals[0]! : Infinity;
        console.log(
          `${family.padEnd(12)} ${`${rows}x${cols}`.padEnd(12)} ${ratio.toFixed(3).padStart(10)}            ${kappa.toExponential(1)}`,
        );
        if (ratio > worst.ratio) worst = { ratio, what: `${family} ${rows}x${cols}` };
        byFamily.set(family, Math.max(byFamily.get(family) ?? 0, ratio));
        byN.set(n, Math.max(byN.get(n) ?? 0, ratio));
      }
    }
  }
}
console.log(`\nworst by family: ${[...byFamily].map(([f, r]) => `${f} ${r.toFixed(2)}`).join(', ')}`);
console.log(`worst by n:      ${[...byN].map(([n, r]) => `${n} ${r.toFixed(2)}`).join(', ')}`);
console.log(
  `worst overall:   ${worst.ratio.toFixed(3)} (${worst.what}); C in use = ${C_USED}: margin ×${(C_USED / worst.ratio).toFixed(1)}`,
);
