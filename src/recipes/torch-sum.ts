/**
 * torch.sum of a contiguous float32 vector, operation for operation (PyTorch 1.13 CPU
 * `cascade_sum`, AVX2 build: 8-lane vectors, 4-way interleaved rows, 4-level cascade), so that
 * `--precision float32` reproduces the papers' Hill denominators Σ ln λ − n·ln xmin bit for bit where
 * their cancellation amplifies the summation order's rounding (alpha ≫ 1; docs/recipes.md#parity).
 */
const f32 = Math.fround;
const LANES = 8;
const ILP = 4;
const LEVELS = 4;

function ceilLog2(x: number): number {
  return x <= 1 ? 0 : Math.ceil(Math.log2(x));
}

/** multi_row_sum: `size` rows of ILP items; item (row, k) is load(row·ILP + k), each a `lanes`-wide vector. */
function multiRowSum(load: (item: number, lane: number) => number, size: number, lanes: number): Float64Array[] {
  const levelPower = Math.max(4, Math.trunc(ceilLog2(size) / LEVELS));
  const levelStep = 2 ** levelPower;
  const levelMask = levelStep - 1;
  const acc: Float64Array[][] = Array.from({ length: LEVELS }, () => Array.from({ length: ILP }, () => new Float64Array(lanes)));
  const addRow = (i: number) => {
    for (let k = 0; k < ILP; k++) for (let l = 0; l < lanes; l++) acc[0]![k]![l] = f32(acc[0]![k]![l]! + load(i * ILP + k, l));
  };
  let i = 0;
  while (i + levelStep <= size) {
    for (let j = 0; j < levelStep; j++, i++) addRow(i);
    for (let j = 1; j < LEVELS; j++) {
      for (let k = 0; k < ILP; k++) {
        for (let l = 0; l < lanes; l++) {
          acc[j]![k]![l] = f32(acc[j]![k]![l]! + acc[j - 1]![k]![l]!);
          acc[j - 1]![k]![l] = 0;
        }
      }
      if ((i & (levelMask * 2 ** (j * levelPower))) !== 0) break;
    }
  }
  for (; i < size; i++) addRow(i);
  for (let j = 1; j < LEVELS; j++)
    for (let k = 0; k < ILP; k++) for (let l = 0; l < lanes; l++) acc[0]![k]![l] = f32(acc[0]![k]![l]! + acc[j]![k]![l]!);
  return acc[0]!;
}

/** row_sum over `size` items of `lanes` lanes. */
function rowSum(load: (item: number, lane: number) => number, size: number, lanes: number): Float64Array {
  const sizeIlp = Math.trunc(size / ILP);
  const p = multiRowSum(load, sizeIlp, lanes);
  for (let i = sizeIlp * ILP; i < size; i++) for (let l = 0; l < lanes; l++) p[0]![l] = f32(p[0]![l]! + load(i, l));
  for (let k = 1; k < ILP; k++) for (let l = 0; l < lanes; l++) p[0]![l] = f32(p[0]![l]! + p[k]![l]!);
  return p[0]!;
}

/** torch.sum(x[start:end]) for float32 values x (already rounded to float32). */
export function torchSum32(x: ArrayLike<number>, start = 0, end = x.length): number {
  const n = end - start;
  if (n < LANES) return rowSum((i) => x[start + i]!, n, 1)[0]!;
  const vecSize = Math.trunc(n / LANES);
  const lanes = rowSum((v, l) => x[start + v * LANES + l]!, vecSize, LANES);
  let acc = 0;
  for (let k = vecSize * LANES; k < n; k++) acc = f32(acc + x[start + k]!);
  for (let l = 0; l < LANES; l++) acc = f32(acc + lanes[l]!);
  return acc;
}
