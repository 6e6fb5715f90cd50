import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { keras3Layout, legacyH5Layout, openKeras, type KerasStore } from '../../src/formats/keras.js';
import type { Hdf5Access } from '../../src/formats/hdf5.js';
import { ZipArchive } from '../../src/formats/zip.js';
import { flattenModelConfig, kerasLayerType, kerasSnakeCase } from '../../src/formats/keras-config.js';
import { WeightWatcher } from '../../src/watcher.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { expectError } from '../helpers/errors.js';
import { group, plainRead, writeH5 } from '../helpers/h5-writer.js';
import { pythonWith, runPython } from '../helpers/python-fixtures.js';
import { zipBytes } from '../helpers/zip-writer.js';

/*
 * Real HDF5 files, written by h5py 3.7 (no TensorFlow here) in the two Keras layouts; the script
 * that made them is at the end of this file. Every weight holds k + ((i * 37) % 64) / 64 for its
 * flat index i and a per-weight k, values exact in float16/32/64.
 */
const LEGACY_H5 = [
  'H4sIAAAAAAACA+1dDWwUxxXeO9vIdZ3gNIiYBtTD5scGx3YcaA0h9R0YMikI3IBS0oKOs722L5zvzN0ZXJKo25RQh7qpS2nqUkqt',
  'qo2sCEUIoRZFqHJTilxKqZXSlEaIWhGtEIoqC0WpVaHQb29n7nbmdu8W/xBT5klPz2/m3czu7Htv3ryZXb9C6tfdV/DZAkWH/Hwl',
  'VylSzHCLwqy9PM/qd1DqorSb0gE3K5+RqCum5UW0fU+OwbfR8i1Pr12rS98SgPUzNtug+YqEexHIWl+DTrdSnunTkJuXa480qyH/',
  'HjXY2haPmfTSO85+mb52P2jwx2l5oUKoft+vzIJW7lSjgZh/txqNBSNhlM9xuRK/LEpeQz5nJ3l6mzkp23lyzaYNLoX+QJDToaZy',
  'WWU1KLvdAkrjajgWibaEInsMnjapnKE/fL6kKRSIxfzhQLtastJTsq4z3BTHJQZCJRWekqZIuCXYivLnS5hAu14eCnwddwL2a+Lv',
  'nwp3dMY36NW6HCsN6qX+R22aZLUvVuh/N0Y6w83+MJ5TooPtKBU7WRMJ766pN3fQpJc027SfquyMqf7GYEBvOB7tVB13uDoQb2rb',
  'GIm2B0LBvQF9fMydN+q1aECotrgSK0nHF7EuFIjjcZp7bkkVWfTGah33UB+NdEQ64+YemlNFFj2wWuc9QB1Vrn1WYNU6qxvvY9us',
  '7upUw/GgocystE0N2GkKq7pd/dZ/50+ocYaGqcAEx8rWiky14x0vmx5rMvZYI/TYEgjF7Lrc/qJFr2vbG9Xm5mC41dyzai606DtV',
  'fxt31xFv2xOMqenuo5lV2d4pqx//WHZE1eZgwrfGbHoRJJw9RQypeT4a+ZSMBSRIkCBBggQJEv4f4AGWZxDyZ4U0c+FS8hN5hsZA',
  '00413Jw1v1Bgyi+4uXzFfYl2jDyJEaQqDvIVej6BtZeTKM+xzOt5aUGxy5zXc9vm9Yrn8vmcQy0G7ZAqcU/l9VheTWN0PcuDuTg9',
  'Y3ZyaoPBX9qYWa5ni8Efe4bvd/PGTfWuhFUZUDuLz7vtoLw2Wz4jJ35LHK9CZYyOZyHGuFhJZFwSi+dYovxBDLSeUnW5XFw+k1Ga',
  'MzR3ZaT5uN4t8m00KWaWolksrkhfvfN3oqdwhJtLJiHMP6SZglSRaVmfKrTzjzvmGTzLYxv+UbH1jxKkfzTrC/NXgw/zcsxvNUxS',
  'v4Z/zFPKWH9VfD/XKJ9fY1APKy/l5YoWGLR6kUG9tNz7BC/XRvnuOup/afnFJl7uJuXntvBxw7CHlxujfHHp9PCP2hyD73+Y+cfa',
  'ZDym+0djxyrlIHX/6DL5RxHs/EuXR/oXCRP3Lx7P1PoXZhcj8xTOgUyVXfSWSruQMHG7qC29M3Yhzl9TZRcDdF7u4uzC/hzOSDk/',
  'HhLubbtgp8UaFvFybLHGtJFMkl2I8WQhvZJMdjHTZBfs/Iybu86qnWo0rIZWVlNW35ZdWZ0pr0AW07i13Jnd1FZIu5F2k7IbFl51',
  'l/NyTBGTGQ6qicyOase1jkvluTyL+XlL1GMJis38mWeMmYvxNJ+eaxSwc3c5gn/JFcrt64sTTT/g+Rwt8ygP5SsPfYPW5+EJ6vVu',
  't9tl+BHDI+W4tEfokxUm/q1TOh6GXrmTfrG/MrM807+ypVKXeNDqFOUc8BDwCnAAeAN4GrgfOAw8DLwKfBM4Bnwb2AN8F9gPvA48',
  'CfwYOAQ8CLwMfB04CnwLuA94AdgHfB94DPgRcBB4AHgReBR4DXgCeBN4FtgLfA/4C+C/gaeALwHPA18DjgDfAH4I/E2dkcF5B3gE',
  '+C/gceB/gWeArwIvAX8O/AD4q7ps959ud4bGsfk8d9Ls6HgVH9Ew6J5uCuNVlIXAAmCV1y6u12hebtRhXF/9eRmfyPgkPT4pq+Hl',
  'LHZcuHjiduMTFk+L+eRCZThrXL8wgx+wuM6q1kB7eyAVWlkLNapxTsZSqD2yOxhu9bergbAhm0FodyAaDISb1Mzrib7HDP7Ucmf2',
  '2k0HukyqrrRXJbWvcmk5L8d0nqm1qLmWSmqy5+Is64mOx3h5UY8lOF1PTFVcM7zibohrDL1KvX04ssLZeqLrC5nlkvr7eGY55kc9',
  'q+52zfLCFajALwEj3junZ6Mr7474+ZMan6JVcnwyjU/1E3fn+Fivv9iE7HRfpXaNXH/JeC59X2WgjpdjB9cme19FPH/jZF/lfsV+',
  'XyVxncltFYNL7arYr4P6qd0MrnZmN71rpd1Iu0nPW4ys5uWmel+ly8uvg0Q9luB0HWRE4i63i7PrGULcP2PC8caldfQJCVfUNQ3W',
  'Qal9lb4nna2DtHqpSzxoXkU7CCt8GfRHoAdAj4B+D/SboIdA94P+GPQ7oEdBe0G/BfpD0G7Qw6DfBf0ZKNrS9oGiLe0VULSlvQqK',
  'trQfgKItrQ8UbWk/BUVb2kugaEv7Nija0npA0Zb2fVC0pb0Gira0n4CiLQ3XrKAt7eWscfeMSbODAWKd6ZlucTc8qnYC4/NL0F+D',
  'vgF62jb+rt7A30W2OKJhk/XqQ8K9GUcwfSpbbxF/+x+ltGbC3xdiwN53Ya+vsHdW2Dkqu30Xth5gb6+Ir6yI76uIL6uw66++zfXC',
  'Neo18tez9UJb1vVCkcl/iech6LjyKwbwLE6j452sz2bPA1+W6wJpz+nrgrGNd2Jd4E7qXf9sfl0gvrfI5pshQc7uvUW5LuDjnzwh',
  'DsqbcDw0+rT1OmB6rQvaNjtbF/Q1SF/AwyDixncwXf8e9G+g50Avg/4Z9LegF0HPgv4d9I+gV0CHQX8H+lfQIdD3QP8E+g9QtKWd',
  'AUVb2h9A0ZZ2ARRtaX8BRVvapazxfN6k6W8X9Ryzpnk8P4JxuYHx+Sfof0Cve7PN6cu2yjldzunpMfr5ZzLP6RON0bPNRXlCLCvy',
  'KVuuo7rrVZZ9Wll2KyebLb/w7PSdi1K5zwVfkbo5fvAYalk236ANlO+ifD/lhyg/SvliSr20vI3yvZQ/RfkRyudTWu2xzZmc3EbX',
  'iA5zJlf90h9Lf5zuj7dt4+XEnMRE/THLQcz9qsGv2sZyEA1ZcxCzTTGXS7ie5HVWJf+ia0HrvcoN2w0+5HdmL6sapb1Ie0m3lx6/',
  'jb0k30GcmL2kzdfbeb0X9VjC+OJA9u0idhZK5FNx4Ex6TqJIKchTCmZmXdPto189aZjWcWBFQOrIeEAj58ghcoUMkBvkNNlPhslh',
  'cpW8ScbI26SHvEv6yXVyknxMhshBcpm8TkbJW2QfuUD6yPvkGPmIDJID5CI5Sq6RE+QmOUvs4rvLrbzWZJuvZu2U85Wcr9Lnq1Ut',
  'vJy4xzQ581Ve0tt9+Czfrhj3sRz6qXm8nPhtGXZWbpDwcuJeFtP3rXN4OfEbTmydVB/h5UKU79n1yT4/FqeK38xycrZvboY4Ofm8',
  'q5J/+c05F7t4+QX6z36OPOfM/4Tapf+R/id9D+/0czb+x89n/ibrbN+WNr49UY8lOI2XM38zIVfwM9nraTw9/3b3SE7S74P2Cld8',
  'J76ZkNKrbSGpI+MBHxyBr9yr+Eo0xbd0UPEtBF8JfjF4D/gl4EvBV4BfCL4KfBn4+eCXgF8A/hHwi8BXgS8HXwJ+KfgF4CvBLwbv',
  'AV8OvhR8BfiF4CvBY9nnmw9+CfjSQdtva+VGadzgMN6u75TznZzv0uPtY7vE+U4/C7Ui+XXkycqninFrIf0Ka6Y48TNKlndA9OsU',
  'TnWtMJ3ryhQvHqP2cz7uzH6O7JH2I+0nPV78IM7LTfW7IPuivF2KeizBabzI51fFb2el8+M9M3O1i/e4DKbXma+bWS6H6V/PbqlL',
  'PFT7FO8Kn6LV+JTBx32Kshz8F33ZzmS5J02/Cvdaz0zT7t1mjMtTvv8Brc7bVhR6AAA=',
].join('');
const KERAS3 = [
  'H4sIAAAAAAACA+1dDVRT1x2/SQAjxRY9eKBysGlLVbQCYmktbpooeiJYFj+mFMYkQkpACEzSDu22PqrYaFGROYtfXfphZa3zMGYt',
  'x2Mt7aijaNFSpMw5xnG2o53dnPuQ9Wxjv/DeI7ybhMQ0URj3nvM7P/7v3dwXbn73/n/3vnzoUhUBYYQQJXl3z8aspVO3fZ6EaD4w',
  'DigymPW5erM+tqC02PTGqpa0mSkP7ohLnTm99ey5FfXLdQkdigUPRAUe2t1U3d57uam+Payqblf5rq1Hy392tPylTeXlEyNiLsiJ',
  'TnIR7m1ZaZSMkN8GEnIHjuYUm57Iz+u/xJu7NalN8aEVfS3Vvww78sjOEw8qL7//inZv0eF18QeNUx5vb+szLc881qE+3p7zx7f3',
  '3jAsuLht8eq0lxouWfIearx7f8LfElceuLAjZUZi+YS8yGXTs2OV+7pO7i/YV7Dh2j9WVW757D5lcNdHdX0/MuYt2fRw5A8XxrV2',
  'Bc1KyAha+NFbz7dmhkyOznwoffvs5phPK7QLk1refC3n1Pbs3rZfcKqk02vj7j3w8aTnlixdeGPJnNXZZw7PLZqku65476v7jU+n',
  'ZJ59IS4q+3BjRuWhju8+dibq4OcfZEaf1pomHut6fGJx6l9ykq7EHX+0/ZunkqJnvLKTm7rlmQ0h816u2vrJf77MyvtrtfLDf7Vt',
  'v+t3f2q78o6xQPcDeVrsiV83PJ248surbT+v6Ij4w7l31t8YK/YiEV4q47KGdYTYEGp7qYpzDYWx3zfk5xnNpbHGxK3a5MXjgicF',
  '9z9AqSQB/bXspU8otscPjsXz2QLLBLYIXCsXj8v6z0UIx8cL7dP1Vi5ftMhWu48q4nW6A3lWElZGY9Eu0uhsnC7E0wRulkvrPaVf',
  'X2rjQv0Gg+2v4hJzflH+RsN6SqfxHl7XlX61Cj42Bg7WL3GpX1aYfgfrV5zHLIG03vii89F1V6R9K1lGFAOz+rQx1HWEuGQsz6LO',
  'G8ZK6zWs5bkzV/r8VQppPXpc/L8UV/MA3X/u8lhtiNBPbEiM6nmgjvJP1gw3OssUdJY1dD16nLrTb2iwkA9DPNNvXSjzYUy/9jwm',
  '5hVdiHMfNpAXfJLHxgz4PlU0lXeE2DhFOC8cb4yQ1usRYmUkz2pR1/HSep1C3JvAs/j/dq+W1lMKJ6ZlSPNn73hpPdUE4Xph0vHT',
  'Q+VZejyK/dYwV1qvW4jJPN/ksYg7+XhOKPOzrHjvZ9NDb4WflQ1c79o46XVoHbNyc/MAPU+58wNl4cwPsHnA0Q9kh/nXD7jSb7d4',
  '3XCWx1jxPo+pwm9tHmsIo/wdpWNWbm4eoH2+uzymnszyGJsHHPPYtMjbk8dqhes2R3mm3xqV9HmzMrr1K+qpJ0paT7zvNYvKa2of',
  '5TEuUtourWNWXM0DgXyfycSYn1lkAfwB4bbKAIu3PQOo467PR/Q3PV51j3BMRcKVJPwZ4XwgXkHbeblcLuPzIK8ghaz7XsERyaTP',
  'ON2v/cHrSm6/T3bP0PUH5r37mZakhZtPSAuwG+gCaoHrwElgC3Ae2AdcAY4CvcB7QCXQAViBL4BjwH+BZqAauAS8BlwDTgCbgVag',
  'BrgMHAH+CTQC24B24EWgB6gH/g2cBqqAi8CrwJ+BBuBZ4CywB+gGXgf+DpwCLEAbcAD4DKgDvgKagB1AJ/AycBU4Pt/d/+847njd',
  'y2Qyyfj5+uMoNNp5hrYMN8EgFTwABANxapfvf6D22935E2sM89fMnzj6a8uU2+OvlVMFfx/jmX57ZwhZkL2UTL/E/v4zbczQ/lq4',
  'fUhmU37b0/ef0f66e4q0HVrHrHjqr/2V59UzR0Ke53UVYL8PPd0zf62bOXQ9cZ4tiR26njiPVsWNdGWp4ZMMQApQrL51OsuOHRl+',
  '8nb1DxfH+meo/rHGj8z+ce7n6PfruPNz8Q+z9Qjzc47rkYjZt2c9UiNctyHRM/1a5jgfvayMTv2KeupMHHo94uv9/pLZ0nZpHbPi',
  '6XqEX1HK+DQ90L9BhDiNvc/75x/lazRSz6hsGKxH7Pv9ZY94th6pSmJakhZOTbhqDO8K8AvgbeAD4J3gcvBu8BbwXvDz4BfBVeBN',
  '4J+ALeB94O3gn4LRFrcZjLa4rWC0xe0Aoy3ux2C0xdWA0RZ3EIy2uGfBaIt7Doy2uEow2uJ2gdEWtweMtrj9YLTF4TkTtMVVuPW/',
  'QT4bB9a50plzuPpfK/qlHv1zCPwW+HXwSZc+mH5fuDsfMUfDfDDzEY4+WEV9rkD8PK2/fbBVuG6j2jP9qhcxH8z06+iDuymDm2sw',
  'lRpEXjPL5z64bJ7UB9M6ZuXm5oHaBXzcnOzZPKBdwvIYmwcc81hPsn/3c+h1C7dAOg/QOhaf1+Y0ab0jQnxWx+aBwfNA3WI+Pq/1',
  'bB6wpjI/wOYBRz9wTXtr98Usi6Xt0jpmxbt9saCBdT1xGnu/H9Cz1Pk+2PDaF6tK8WxfLPsxpiVpgRPn2jC83wd/Am4BXwKfA78L',
  'bgefBv8GfAbcBT4P/hX4ArgZfBH8Ifj3YLTFNYHRFvcBGG1xrWC0xX0MRltcp9v9rECf6bdEcBBhw3w/Cysz7jr651PwDfAXLvey',
  'aE/kLvcHrGRrAJb7HdcAV3X+XQO40m/hMj6uXOGZfr+ziumX6ddRv0dWOPeuvl3D2r1r8jJp+7SOWfHOu9pzPHEae5/7XxW+legb',
  'w9C72nW19NtMI14WDVGP1RBOriGNd2igBMR3Ih6DGOdIMGIF4hDEOEfuQqxELNO4/PwD9b1V7nJTTxbLTSw3OeYmbYZ/vZVY8k0l',
  'T5rX9N+F7I+fKNSbzQaT7VvBn0rIJWSt3pxjXGMqXl+kL8zfqDfnF5v664n3fUoN33vSYDLn6wuJ/fig+0C+2nZ1e78yW9p/rIzu',
  'cSTOy1VZzj2ev/Ynq6jvHaS/X5QV7zwe/fl7x9hbj2fRSxUznDyefX8yfs3Q9cV5z6pnWqJ6Bp7tbni2CfBwkfBwExFP1rjbP5T7',
  'TF91a507vOG2f6hCv8Ro3OXZUCPzqyzPOvrV3lz/+lVX660yAx/X5HnmE40FTL9Mv476bchz7hP9tReoM0jbp3XMiqc+USnpR9sv',
  'ctj+DlWKY1ztLj+vcz4jWEdEf9C6Ss9nGvk6RZcqk4cpXP8km1i4fhVJfqCNfij9Q2v2h9rG+qCfXbM/0Plvi9kf+IbM8ZfGdKmB',
  'QbzyFaQevKvIFv0PIU+pGFluAAA=',
].join('');

const value = (k: number, i: number) => k + ((i * 37) % 64) / 64;
const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

let tmp: string;
let legacyPath: string;
let kerasPath: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ww-keras-'));
  legacyPath = join(tmp, 'legacy.h5');
  kerasPath = join(tmp, 'model.keras');
  await writeFile(legacyPath, gunzipSync(Buffer.from(LEGACY_H5, 'base64')));
  await writeFile(kerasPath, gunzipSync(Buffer.from(KERAS3, 'base64')));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function expectValues(store: KerasStore, name: string, k: number): Promise<void> {
  const t = store.list().find((e) => e.name === name);
  const v = await store.read(name);
  expect(v).toBeInstanceOf(Float32Array);
  if (t) expect(v.length).toBe(product(t.shape));
  v.forEach((x, i) => expect(x).toBe(value(k, i)));
}

describe('legacy Keras 2 .h5 (real HDF5 file)', () => {
  it('gives every layer of model.layers, nested Sequential flattened without its InputLayer', async () => {
    const store = await openKeras(legacyPath);
    try {
      expect(store.format).toBe('keras');
      expect(store.convention).toBe('keras');
      const mw = 'model_weights';
      expect(store.layers()).toEqual([
        { name: 'input_1', className: 'InputLayer' },
        { name: 'conv2d', className: 'Conv2D', kernel: `${mw}/conv2d/conv2d/kernel:0` },
        { name: 'batch_normalization', className: 'BatchNormalization' },
        { name: 'flatten', className: 'Flatten' },
        { name: 'dropout', className: 'Dropout' },
        { name: 'dense', className: 'Dense', kernel: `${mw}/dense/dense/kernel:0`, bias: `${mw}/dense/dense/bias:0` },
        { name: 'dense_1', className: 'Dense', kernel: `${mw}/head/dense_1/kernel:0`, bias: `${mw}/head/dense_1/bias:0` },
        { name: 'dense_2', className: 'Dense', kernel: `${mw}/head/dense_2/kernel:0` },
        { name: 'embedding', className: 'Embedding', kernel: `${mw}/embedding/embedding/embeddings:0` },
        { name: 'depthwise', className: 'DepthwiseConv2D', kernel: `${mw}/depthwise/depthwise/depthwise_kernel:0` },
        // TF renamed this layer's variables; its group still owns them.
        {
          name: 'predictions',
          className: 'Dense',
          kernel: `${mw}/predictions/dense_9_1/kernel:0`,
          bias: `${mw}/predictions/dense_9_1/bias:0`,
        },
      ]);
      expect(store.list().map((t) => [t.name.split('/').at(-2), t.dtype, t.shape])).toEqual([
        ['conv2d', 'F32', [3, 3, 2, 4]],
        ['dense', 'F32', [8, 6]],
        ['dense_1', 'F32', [6, 5]],
        ['dense_2', 'F64', [5, 3]],
        ['embedding', 'F16', [10, 4]],
        ['depthwise', 'F32', [3, 3, 4, 1]],
        ['dense_9_1', 'F32', [3, 2]],
      ]);
    } finally {
      await store.close();
    }
  });

  it('reads kernels and biases of every dtype (f32, f64, f16, big-endian f32)', async () => {
    const store = await openKeras(legacyPath);
    try {
      const ks = [1, 4, 6, 8, 9, 10, 11];
      for (const [i, t] of store.list().entries()) await expectValues(store, t.name, ks[i]!);
      await expectValues(store, 'model_weights/dense/dense/bias:0', 5);
      await expectValues(store, 'model_weights/predictions/dense_9_1/bias:0', 12);
      await expectError(store.read('model_weights/batch_normalization/x'), 'E_NOT_FOUND');
    } finally {
      await store.close();
    }
    await expectError(store.read('model_weights/dense/dense/bias:0'), 'E_IO', 'closed');
  });

  it('opens the only .h5 in a folder', async () => {
    const dir = join(tmp, 'one-h5');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'm.h5'), await readFile(legacyPath));
    const store = await openKeras(dir);
    expect(store.list().length).toBe(7);
    await store.close();
  });
});

describe('Keras 3 .keras archive (real zip + HDF5)', () => {
  it('maps layers to class-named weight groups (layers/dense_1, layers/sequential/layers/dense)', async () => {
    const store = await openKeras(kerasPath);
    try {
      expect(store.layers()).toEqual([
        { name: 'input_layer', className: 'InputLayer' },
        { name: 'conv_a', className: 'Conv2D', kernel: 'layers/conv2d/vars/0' },
        { name: 'bn', className: 'BatchNormalization' },
        { name: 'flat', className: 'Flatten' },
        { name: 'dense_named_x', className: 'Dense', kernel: 'layers/dense/vars/0', bias: 'layers/dense/vars/1' },
        {
          name: 'inner1',
          className: 'Dense',
          kernel: 'layers/sequential/layers/dense/vars/0',
          bias: 'layers/sequential/layers/dense/vars/1',
        },
        { name: 'inner2', className: 'Dense', kernel: 'layers/sequential/layers/dense_1/vars/0' },
        { name: 'out', className: 'Dense', kernel: 'layers/dense_1/vars/0', bias: 'layers/dense_1/vars/1' },
      ]);
      expect(store.list().map((t) => t.shape)).toEqual([
        [3, 3, 2, 4],
        [8, 6],
        [6, 5],
        [5, 3],
        [3, 2],
      ]);
      const ks = [1, 4, 6, 8, 9];
      for (const [i, t] of store.list().entries()) await expectValues(store, t.name, ks[i]!);
      await expectValues(store, 'layers/dense_1/vars/1', 10);
    } finally {
      await store.close();
    }
  });
});

describe('damaged and unsupported Keras files', () => {
  /** Rewrite an ASCII name inside the file, keeping its length (and so every offset) intact. */
  async function patched(source: string, name: string, from: string, to: string): Promise<string> {
    const bytes = await readFile(source);
    const out = Buffer.from(bytes.toString('latin1').split(from).join(to), 'latin1');
    expect(out.equals(bytes)).toBe(false);
    const path = join(tmp, name);
    await writeFile(path, out);
    return path;
  }

  it('rejects a .keras archive without model.weights.h5', async () => {
    const path = await patched(kerasPath, 'no-weights.keras', 'model.weights.h5', 'model.weights.h6');
    await expectError(openKeras(path), 'E_CORRUPT', 'config.json and model.weights.h5', 'model.weights.h6');
  });

  it('rejects a weights-only .h5 without model_config', async () => {
    const path = await patched(legacyPath, 'weights-only.h5', 'model_config', 'model_confiX');
    await expectError(openKeras(path), 'E_UNSUPPORTED', 'no model_config');
  });

  it('rejects a layer whose listed weight is missing', async () => {
    // The attribute spells the full weight name; the dataset link is only "kernel:0".
    const path = await patched(legacyPath, 'missing-weight.h5', 'dense_9_1/kernel:0', 'dense_9_1/kernex:0');
    await expectError(openKeras(path), 'E_CORRUPT', 'predictions/dense_9_1/kernex:0', 'not a dataset');
  });

  it('rejects files that are not Keras models', async () => {
    const path = join(tmp, 'not-a-model.h5');
    await writeFile(path, 'hello world, not hdf5');
    await expectError(openKeras(path), 'E_FORMAT', 'not a Keras model');
    await expectError(openKeras(join(tmp, 'nope.keras')), 'E_NOT_FOUND');
    const two = join(tmp, 'two');
    await mkdir(two, { recursive: true });
    await writeFile(join(two, 'a.h5'), '');
    await writeFile(join(two, 'b.keras'), '');
    await expectError(openKeras(two), 'E_USAGE', 'a.h5, b.keras');
  });

  it('turns truncated or bit-flipped HDF5 data into WeightWatcherErrors', async () => {
    const good = await readFile(legacyPath);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const path = join(tmp, 'fuzz.h5');
    let failures = 0;
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.from(good);
      const damaged = i % 5 === 0 ? bytes.subarray(0, 8 + rand(bytes.length - 8)) : bytes;
      for (let j = 0; j < 1 + rand(4); j++) damaged[rand(damaged.length)] = rand(256);
      await writeFile(path, damaged);
      const started = Date.now();
      try {
        const store = await openKeras(path);
        for (const l of store.layers()) {
          if (l.kernel)
            await store.read(l.kernel).catch((e: unknown) => {
              failures++;
              expect(e, String(e)).toBeInstanceOf(WeightWatcherError);
            });
        }
        await store.close();
      } catch (e) {
        failures++;
        expect(e, String(e)).toBeInstanceOf(WeightWatcherError);
      }
      expect(Date.now() - started).toBeLessThan(5000);
    }
    expect(failures).toBeGreaterThan(0);
  });
});

/**
 * A hostile .h5: every group B-tree becomes three levels deep, each level fanning out 65535 times to
 * one shared child. The pure-JS reader used before (jsfive) read every path through the tree, i.e.
 * allocated without bound; libhdf5 rejects the nodes (they lie past the end of the allocated file).
 */
function fanOutBomb(h5: Buffer): Buffer {
  const node = (level: number, addrs: number[]) => {
    const b = Buffer.alloc(24 + 16 * addrs.length + 8);
    b.write('TREE', 0, 'latin1');
    b.writeUInt8(level, 5);
    b.writeUInt16LE(addrs.length, 6);
    b.writeBigUInt64LE(0xffffffffffffffffn, 8);
    b.writeBigUInt64LE(0xffffffffffffffffn, 16);
    addrs.forEach((a, k) => b.writeBigUInt64LE(BigInt(a), 24 + 16 * k + 8));
    return b;
  };
  const trees: number[] = [];
  for (let i = h5.indexOf('TREE'); i >= 0; i = h5.indexOf('TREE', i + 1)) if (h5[i + 4] === 0) trees.push(i);
  const symbolTable = Number(h5.readBigUInt64LE(trees[0]! + 32));
  const leaf = node(0, [symbolTable]);
  const mid = node(1, new Array<number>(65535).fill(h5.length));
  const top = node(2, new Array<number>(65535).fill(h5.length + leaf.length));
  const out = Buffer.concat([h5, leaf, mid, top]);
  for (const t of trees) {
    out.writeUInt8(3, t + 5);
    for (let k = 0; k < out.readUInt16LE(t + 6); k++) out.writeBigUInt64LE(BigInt(h5.length + leaf.length + mid.length), t + 32 + 16 * k);
  }
  return out;
}

describe('hostile HDF5 files', () => {
  it('rejects group B-trees that fan out to shared children (a pure-JS reader allocated without bound)', async () => {
    const path = join(tmp, 'bomb.h5');
    await writeFile(path, fanOutBomb(await readFile(legacyPath)));
    await expectError(openKeras(path), 'E_CORRUPT', path, 'invalid HDF5 data');
  });

  it('applies the time limit it is given', async () => {
    await expectError(openKeras(legacyPath, { memoryMb: 512, timeoutMs: 1 }), 'E_CORRUPT', legacyPath, 'took more than 1 ms');
  });

  /** A minimal legacy Keras .h5 (one Dense layer) whose kernel is made by `kernel` in the layer's weight group. */
  function denseH5(name: string, kernel: (g: import('../helpers/h5-writer.js').h5wasm.Group) => void): Promise<string> {
    return writeH5(join(tmp, name), (f) => {
      f.create_attribute(
        'model_config',
        JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [layer('Dense', 'dense', { use_bias: false })] } }),
      );
      group(f, 'model_weights/dense').create_attribute('weight_names', ['dense/kernel:0']);
      kernel(group(f, 'model_weights/dense/dense'));
    });
  }

  it('refuses a kernel that is an external link to another file', async () => {
    const secret = await writeH5(join(tmp, 'secret.h5'), (f) => {
      f.create_dataset({ name: 'w', data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [3, 2] });
    });
    const path = await denseH5('external-kernel.h5', (g) => g.create_external_link(secret, '/w', 'kernel:0'));
    expect(await plainRead(path, 'model_weights/dense/dense/kernel:0')).toEqual([1, 2, 3, 4, 5, 6]);
    await expectError(openKeras(path), 'E_UNSAFE', path, 'model_weights/dense/dense/kernel:0', 'external link', secret);
  });

  it('refuses non-float weights per tensor, naming the file and the dataset', async () => {
    const path = await denseH5('int-kernel.h5', (g) => g.create_dataset({ name: 'kernel:0', data: new Int32Array(6), shape: [3, 2] }));
    const store = await openKeras(path);
    try {
      expect(store.list()).toEqual([
        {
          name: 'model_weights/dense/dense/kernel:0',
          path: 'model_weights/dense/dense/kernel:0',
          shape: [3, 2],
          dtype: 'I32',
          filtered: false,
        },
      ]);
      await expectError(
        store.read('model_weights/dense/dense/kernel:0'),
        'E_UNSUPPORTED',
        path,
        'model_weights/dense/dense/kernel:0',
        'I32',
      );
    } finally {
      await store.close();
    }
  });
});

/** Layers of the legacy fixture big enough for the default analysis to give rows for (the others are below its minimum size). */
const ROWS_OF_LEGACY_FIXTURE = 1;

/** Rows of an analysis, to compare two files holding the same weights. */
async function analyse(path: string): Promise<unknown[]> {
  const ww = new WeightWatcher(path);
  return ww.analyze();
}

describe('process lifetime', () => {
  it('a store left open does not keep the process alive (its idle worker is unreferenced)', async () => {
    const script = join(tmp, 'left-open.ts');
    await writeFile(
      script,
      [
        `import { openKeras } from ${JSON.stringify(fileURLToPath(new URL('../../src/formats/keras.ts', import.meta.url)))};`,
        'const store = await openKeras(process.argv[2]!);',
        'await store.read(store.list()[0]!.name);',
        "console.log('read, not closed');",
      ].join('\n'),
    );
    const viteNode = fileURLToPath(new URL('../../node_modules/.bin/vite-node', import.meta.url));
    const r = spawnSync(viteNode, [script, kerasPath], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error, 'the process did not exit by itself').toBeUndefined();
    expect(r.stdout).toContain('read, not closed');
    expect(r.status).toBe(0);
  });
});

describe('files larger than 2 GiB', () => {
  it('reads a model whose HDF5 data starts past 2 GiB (a 2 GiB user block before the superblock, sparse on disk)', async () => {
    // libhdf5 finds the superblock at any power-of-two offset (this is how h5jam adds user blocks),
    // so every object of the fixture then lies beyond byte 2^31 of the file.
    const path = join(tmp, 'past-2gib.h5');
    const bytes = await readFile(legacyPath);
    const fd = openSync(path, 'w');
    try {
      ftruncateSync(fd, 2 ** 31);
      writeSync(fd, bytes, 0, bytes.length, 2 ** 31);
    } finally {
      closeSync(fd);
    }
    expect((await stat(path)).size).toBe(2 ** 31 + bytes.length);
    const store = await openKeras(path);
    try {
      expect(store.list().map((t) => t.shape)).toEqual([
        [3, 3, 2, 4],
        [8, 6],
        [6, 5],
        [5, 3],
        [10, 4],
        [3, 3, 4, 1],
        [3, 2],
      ]);
      const ks = [1, 4, 6, 8, 9, 10, 11];
      for (const [i, t] of store.list().entries()) await expectValues(store, t.name, ks[i]!);
      await expectValues(store, 'model_weights/dense/dense/bias:0', 5);
    } finally {
      await store.close();
    }
    const rows = await analyse(path);
    expect(rows.length).toBe(ROWS_OF_LEGACY_FIXTURE);
    expect(rows).toEqual(await analyse(legacyPath));
  });

  const python = pythonWith('h5py');
  it.skipIf(!python)(
    `reads weights whose HDF5 addresses lie past 2 GiB, after an allocated filler${python ? '' : ' (skipped: no python3 with h5py; apt-get install python3-h5py)'}`,
    async () => {
      const offsets = JSON.parse(
        runPython(
          python!,
          `
import h5py, numpy as np, json, sys
def vals(shape, k, dtype):
    n = int(np.prod(shape))
    return (k + ((np.arange(n) * 37) % 64) / 64.0).reshape(shape).astype(dtype)
model = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "Dense", "config": {"name": "dense", "use_bias": True}},
    {"class_name": "Dense", "config": {"name": "dense_1", "use_bias": False}}]}}
offsets = {}
for name, filler in (("near.h5", 0), ("far.h5", 2**31 + 4096)):
    with h5py.File(sys.argv[1] + "/" + name, "w") as f:
        f.attrs["model_config"] = json.dumps(model)
        if filler:
            d = f.create_dataset("filler", shape=(filler,), dtype="u1")
            d[-1] = 1  # allocates the whole extent: the file is 2 GiB, sparse on disk
        mw = f.create_group("model_weights")
        g = mw.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        g["dense/kernel:0"] = vals((40, 30), 1, "<f4")
        g["dense/bias:0"] = vals((30,), 2, "<f4")
        g = mw.create_group("dense_1")
        g.attrs["weight_names"] = np.array([b"dense_1/kernel:0"])
        g["dense_1/kernel:0"] = vals((30, 20), 3, "<f8")
        offsets[name] = [g["dense_1/kernel:0"].id.get_offset(), mw["dense/dense/kernel:0"].id.get_offset()]
print(json.dumps(offsets))
`,
          [tmp],
        ),
      ) as Record<string, number[]>;
      expect(Math.min(...offsets['far.h5']!)).toBeGreaterThan(2 ** 31);
      const far = join(tmp, 'far.h5');
      const store = await openKeras(far);
      try {
        expect(store.list().map((t) => [t.name, t.dtype, t.shape])).toEqual([
          ['model_weights/dense/dense/kernel:0', 'F32', [40, 30]],
          ['model_weights/dense_1/dense_1/kernel:0', 'F64', [30, 20]],
        ]);
        await expectValues(store, 'model_weights/dense/dense/kernel:0', 1);
        await expectValues(store, 'model_weights/dense/dense/bias:0', 2);
        await expectValues(store, 'model_weights/dense_1/dense_1/kernel:0', 3);
      } finally {
        await store.close();
      }
      const rows = await analyse(far);
      expect(rows).toHaveLength(2);
      expect(rows).toEqual(await analyse(join(tmp, 'near.h5')));
    },
  );
});

describe('.keras archives: the weights entry goes through a private temporary file', () => {
  /** The KERAS3 fixture rebuilt with its weights entry deflated (Keras writes it stored). */
  async function deflatedArchive(name: string, patchSize?: (size: number) => number): Promise<string> {
    const zip = await ZipArchive.open(kerasPath);
    const entries = [];
    try {
      for (const e of zip.entries())
        entries.push({ name: e.name, data: await zip.readEntry(e.name), deflate: e.name === 'model.weights.h5' });
    } finally {
      await zip.close();
    }
    const bytes = zipBytes(entries);
    if (patchSize) {
      // Declare another uncompressed size for the weights entry (local and central headers).
      const buf = Buffer.from(bytes);
      const size = entries.find((e) => e.name === 'model.weights.h5')!.data.length;
      for (let i = buf.indexOf('model.weights.h5'); i >= 0; i = buf.indexOf('model.weights.h5', i + 1)) {
        const central = buf.readUInt32LE(i - 46) === 0x02014b50;
        const at = central ? i - 46 + 24 : i - 30 + 22;
        if (buf.readUInt32LE(at) === size) buf.writeUInt32LE(patchSize(size), at);
      }
      return writeTmp(name, buf);
    }
    return writeTmp(name, bytes);
  }
  async function writeTmp(name: string, bytes: Uint8Array): Promise<string> {
    const path = join(tmp, name);
    await writeFile(path, bytes);
    return path;
  }

  /** Run `fn` with os.tmpdir() pointing at a fresh folder; returns what is left in it afterwards. */
  async function inPrivateTmp(fn: () => Promise<void>): Promise<string[]> {
    const dir = await mkdtemp(join(tmp, 'tmpdir-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      await fn();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    return readdir(dir);
  }

  it('streams a deflated weights entry out, and leaves no file behind once libhdf5 holds it open', async () => {
    const path = await deflatedArchive('deflated.keras');
    const left = await inPrivateTmp(async () => {
      const store = await openKeras(path);
      try {
        // Already unlinked: libhdf5's open descriptor keeps the data readable.
        expect(await readdir(process.env.TMPDIR!)).toEqual([]);
        expect(store.list().map((t) => t.shape)).toEqual([
          [3, 3, 2, 4],
          [8, 6],
          [6, 5],
          [5, 3],
          [3, 2],
        ]);
        const ks = [1, 4, 6, 8, 9];
        for (const [i, t] of store.list().entries()) await expectValues(store, t.name, ks[i]!);
      } finally {
        await store.close();
      }
    });
    expect(left).toEqual([]);
  });

  it('rejects an entry that inflates to more than it declares, and cleans up after failures', async () => {
    const lying = await deflatedArchive('lying.keras', (n) => n - 1000);
    const badConfig = await writeTmp(
      'bad-config.keras',
      zipBytes([
        { name: 'config.json', data: new TextEncoder().encode('{"class_name": "Sequential", "config": {"layers": [{"name": "x"}]}}') },
        { name: 'model.weights.h5', data: new Uint8Array(await readFile(legacyPath)) },
      ]),
    );
    const notH5 = await writeTmp(
      'not-h5.keras',
      zipBytes([
        {
          name: 'config.json',
          data: new TextEncoder().encode(JSON.stringify({ class_name: 'Sequential', config: { layers: [layer('Dense', 'd')] } })),
        },
        { name: 'model.weights.h5', data: new TextEncoder().encode('not hdf5'), deflate: true },
      ]),
    );
    const left = await inPrivateTmp(async () => {
      await expectError(openKeras(lying), 'E_CORRUPT', lying, 'inflates to more than');
      await expectError(openKeras(badConfig), 'E_CORRUPT', badConfig, 'no class_name');
      await expectError(openKeras(notH5), 'E_CORRUPT', notH5, 'not a readable HDF5 file');
    });
    expect(left).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------
// Layout rules on an in-memory fake HDF5 file

function fakeH5(tree: Record<string, { attrs?: Record<string, unknown>; shape?: number[] }>): Hdf5Access {
  const isGroup = (p: string) => p === '' || Object.keys(tree).some((k) => k.startsWith(`${p}/`));
  return {
    attr: async (p, name) => tree[p]?.attrs?.[name],
    children: async (p) => {
      if (!isGroup(p) || tree[p]?.shape) return undefined;
      const prefix = p ? `${p}/` : '';
      return [
        ...new Set(
          Object.keys(tree)
            .filter((k) => k.startsWith(prefix))
            .map((k) => k.slice(prefix.length).split('/')[0]!),
        ),
      ];
    },
    dataset: async (p) => (tree[p]?.shape ? { shape: tree[p].shape, dtype: 'F32', filtered: false } : undefined),
    values: async (p) => new Float32Array(product(tree[p]!.shape!)).fill(1),
    close: async () => {},
  };
}

const layer = (class_name: string, name: string, config: Record<string, unknown> = {}) => ({ class_name, config: { name, ...config } });

describe('Keras model-config rules', () => {
  it('classifies class names with the reference substring rules', () => {
    expect(
      [
        'Dense',
        'EinsumDense',
        'Conv1D',
        'Conv2D',
        'DepthwiseConv2D',
        'SeparableConv2D',
        'Conv2DTranspose',
        'Flatten',
        'Embedding',
        'LayerNormalization',
        'BatchNormalization',
        'Conv3D',
        'LSTM',
      ].map(kerasLayerType),
    ).toEqual([
      'dense',
      'dense',
      'conv1d',
      'conv2d',
      'conv2d',
      'conv2d',
      'conv2d',
      'flattened',
      'embedding',
      'norm',
      'unknown',
      'unknown',
      'unknown',
    ]);
  });

  it('snake-cases class names like Keras', () => {
    expect(
      ['Dense', 'Conv2D', 'BatchNormalization', 'InputLayer', 'DepthwiseConv2D', 'LSTM', 'GRUCell', 'ReLU'].map(kerasSnakeCase),
    ).toEqual(['dense', 'conv2d', 'batch_normalization', 'input_layer', 'depthwise_conv2d', 'lstm', 'gru_cell', 're_lu']);
  });

  it('keeps a Functional InputLayer, drops a Sequential one, and accepts the old list-style Sequential', () => {
    const names = (m: unknown) => flattenModelConfig(m, 'm').map((l) => l.name);
    expect(names({ class_name: 'Functional', config: { layers: [layer('InputLayer', 'in'), layer('Dense', 'd')] } })).toEqual(['in', 'd']);
    expect(names({ class_name: 'Sequential', config: { layers: [layer('InputLayer', 'in'), layer('Dense', 'd')] } })).toEqual(['d']);
    expect(names({ class_name: 'Sequential', config: [layer('Dense', 'a'), layer('Dense', 'b')] })).toEqual(['a', 'b']);
  });

  it('counts class names per container for Keras 3 store paths', () => {
    const inner = {
      class_name: 'Functional',
      config: { name: 'enc', layers: [layer('InputLayer', 'i2'), layer('Dense', 'x'), layer('Dense', 'y')] },
    };
    const layers = flattenModelConfig(
      { class_name: 'Functional', config: { layers: [layer('InputLayer', 'i'), layer('Dense', 'p'), inner, layer('Dense', 'q')] } },
      'm',
    );
    expect(layers.map((l) => [l.name, l.storePath, l.namePath, l.top])).toEqual([
      ['i', 'layers/input_layer', 'layers/i', 'i'],
      ['p', 'layers/dense', 'layers/p', 'p'],
      ['i2', 'layers/functional/layers/input_layer', 'layers/enc/layers/i2', 'enc'],
      ['x', 'layers/functional/layers/dense', 'layers/enc/layers/x', 'enc'],
      ['y', 'layers/functional/layers/dense_1', 'layers/enc/layers/y', 'enc'],
      ['q', 'layers/dense_1', 'layers/q', 'q'],
    ]);
  });

  it('refuses subclassed models and absurd nesting', () => {
    expect(() => flattenModelConfig({ class_name: 'MyModel', config: { units: 3 } }, 'm')).toThrow(/subclassed/);
    let deep: unknown = layer('Dense', 'd');
    for (let i = 0; i < 100; i++) deep = { class_name: 'Sequential', config: { name: `s${i}`, layers: [deep] } };
    try {
      flattenModelConfig(deep, 'm');
      expect.unreachable();
    } catch (e) {
      expect((e as WeightWatcherError).code).toBe('E_CORRUPT');
    }
  });

  it('finds TF-Keras 2.13 weights under _layer_checkpoint_dependencies', async () => {
    const layers = flattenModelConfig({ class_name: 'Sequential', config: { layers: [layer('Dense', 'fc', { use_bias: false })] } }, 'm');
    const h5 = fakeH5({ '_layer_checkpoint_dependencies/dense/vars/0': { shape: [4, 2] } });
    const { layers: out, tensors } = await keras3Layout(h5, layers, 'm');
    expect(out).toEqual([{ name: 'fc', className: 'Dense', kernel: '_layer_checkpoint_dependencies/dense/vars/0' }]);
    expect(tensors.get('_layer_checkpoint_dependencies/dense/vars/0')?.shape).toEqual([4, 2]);
  });

  it("assigns a nested model's legacy weights to its layers by name", async () => {
    const inner = {
      class_name: 'Model',
      config: { name: 'enc', layers: [layer('InputLayer', 'i'), layer('Conv2D', 'c'), layer('Dense', 'd')] },
    };
    const layers = flattenModelConfig({ class_name: 'Model', config: { layers: [layer('InputLayer', 'in'), inner] } }, 'm');
    const h5 = fakeH5({
      'model_weights/enc': { attrs: { weight_names: ['d/kernel:0\0', 'c/kernel:0', 'c/bias:0', 'd/bias:0'] } },
      'model_weights/enc/d/kernel:0': { shape: [3, 2] },
      'model_weights/enc/d/bias:0': { shape: [2] },
      'model_weights/enc/c/kernel:0': { shape: [1, 1, 3, 3] },
      'model_weights/enc/c/bias:0': { shape: [3] },
    });
    expect((await legacyH5Layout(h5, layers, 'm')).layers).toEqual([
      { name: 'in', className: 'InputLayer' },
      { name: 'i', className: 'InputLayer' },
      { name: 'c', className: 'Conv2D', kernel: 'model_weights/enc/c/kernel:0' },
      { name: 'd', className: 'Dense', kernel: 'model_weights/enc/d/kernel:0', bias: 'model_weights/enc/d/bias:0' },
    ]);
  });
});

/*
Fixture generator (python3 with h5py; prints gzip+base64 of legacy.h5 and model.keras):

# Keras-layout fixtures for test/formats/keras.test.ts (h5py 3.7, numpy 1.24; no TensorFlow needed).
import h5py, numpy as np, json, zipfile, io, gzip, base64

def vals(shape, k, dtype):
    n = int(np.prod(shape))
    return (k + ((np.arange(n) * 37) % 64) / 64.0).reshape(shape).astype(dtype)

def L(cls, name, **cfg):
    return {"class_name": cls, "name": name, "config": dict(name=name, **cfg), "inbound_nodes": []}

# Legacy Keras 2 .h5: model_config + model_weights/<layer>/<weight name>
head = {"class_name": "Sequential", "name": "head", "config": {"name": "head", "layers": [
    L("InputLayer", "head_input"), L("Dense", "dense_1", use_bias=True), L("Dense", "dense_2", use_bias=False)]}}
model = {"class_name": "Functional", "config": {"name": "m", "layers": [
    L("InputLayer", "input_1"), L("Conv2D", "conv2d", use_bias=True), L("BatchNormalization", "batch_normalization"),
    L("Flatten", "flatten"), L("Dropout", "dropout"), L("Dense", "dense", use_bias=True), head,
    L("Embedding", "embedding"), L("DepthwiseConv2D", "depthwise"), L("Dense", "predictions", use_bias=True)]}}
weights = {  # top-level group -> [(weight name, shape, dtype, k)]
    "input_1": [], "flatten": [], "dropout": [],
    "conv2d": [("conv2d/kernel:0", (3, 3, 2, 4), "<f4", 1), ("conv2d/bias:0", (4,), "<f4", 2)],
    "batch_normalization": [("batch_normalization/%s:0" % w, (4,), "<f4", 3) for w in ("gamma", "beta", "moving_mean", "moving_variance")],
    "dense": [("dense/kernel:0", (8, 6), "<f4", 4), ("dense/bias:0", (6,), "<f4", 5)],
    "head": [("dense_1/kernel:0", (6, 5), "<f4", 6), ("dense_1/bias:0", (5,), "<f4", 7), ("dense_2/kernel:0", (5, 3), "<f8", 8)],
    "embedding": [("embedding/embeddings:0", (10, 4), "<f2", 9)],
    "depthwise": [("depthwise/depthwise_kernel:0", (3, 3, 4, 1), ">f4", 10)],
    "predictions": [("dense_9_1/kernel:0", (3, 2), "<f4", 11), ("dense_9_1/bias:0", (2,), "<f4", 12)],
}
def write_legacy(f):
    f.attrs["keras_version"] = "2.4.0"
    f.attrs["backend"] = "tensorflow"
    f.attrs["model_config"] = json.dumps(model)
    mw = f.create_group("model_weights")
    mw.attrs["layer_names"] = np.array([l["name"].encode() for l in model["config"]["layers"]])
    for lname, ws in weights.items():
        g = mw.create_group(lname)
        g.attrs["weight_names"] = np.array([w[0].encode() for w in ws], dtype="S")
        for wname, shape, dt, k in ws:
            g.create_dataset(wname, data=vals(shape, k, dt))
legacy = io.BytesIO()
with h5py.File(legacy, "w") as f: write_legacy(f)

# Keras 3 .keras: config.json + model.weights.h5 with layers/<snake class>[_n]/vars/<i>
def L3(cls, name, **cfg):
    return {"module": "keras.layers", "class_name": cls, "config": dict(name=name, **cfg), "registered_name": None, "name": name}
seq = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
    L3("InputLayer", "seq_in"), L3("Dense", "inner1", use_bias=True), L3("Dense", "inner2", use_bias=False)]}, "registered_name": None}
model3 = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "m3", "layers": [
    L3("InputLayer", "input_layer"), L3("Conv2D", "conv_a", use_bias=True), L3("BatchNormalization", "bn"),
    L3("Flatten", "flat"), L3("Dense", "dense_named_x", use_bias=True), seq, L3("Dense", "out", use_bias=True)]},
    "registered_name": "Functional"}
vars3 = {
    "layers/conv2d": [((3, 3, 2, 4), "<f4", 1), ((4,), "<f4", 2)],
    "layers/batch_normalization": [((4,), "<f4", 3)] * 4,
    "layers/dense": [((8, 6), "<f4", 4), ((6,), "<f4", 5)],
    "layers/sequential/layers/dense": [((6, 5), "<f4", 6), ((5,), "<f4", 7)],
    "layers/sequential/layers/dense_1": [((5, 3), "<f4", 8)],
    "layers/dense_1": [((3, 2), "<f4", 9), ((2,), "<f4", 10)],
    "optimizer": [((), "<i8", 0)],
}
w3 = io.BytesIO()
with h5py.File(w3, "w") as f:
    f.create_group("vars")
    f.create_group("layers/input_layer/vars")
    f.create_group("layers/flatten/vars")
    for path, vs in vars3.items():
        g = f.create_group(path + "/vars")
        for i, (shape, dt, k) in enumerate(vs):
            g.create_dataset(str(i), data=vals(shape, k, dt))
keras3 = io.BytesIO()
with zipfile.ZipFile(keras3, "w") as z:
    z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3", "date_saved": "2024-05-01@00:00:00"}), zipfile.ZIP_DEFLATED)
    z.writestr("config.json", json.dumps(model3), zipfile.ZIP_DEFLATED)
    z.writestr("model.weights.h5", w3.getvalue(), zipfile.ZIP_STORED)

open("legacy.h5", "wb").write(legacy.getvalue())
open("model.keras", "wb").write(keras3.getvalue())
for name, data in (("LEGACY_H5", legacy.getvalue()), ("KERAS3", keras3.getvalue())):
    b = base64.b64encode(gzip.compress(data, 9, mtime=0)).decode()
    print(name, len(data), len(b))
    open(name + ".b64", "w").write(b)
*/
