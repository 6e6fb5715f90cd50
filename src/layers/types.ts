/** Layer kinds, as the reference names them in its `layer_type` column. */
export type LayerType = 'dense' | 'conv1d' | 'conv2d' | 'embedding' | 'norm' | 'flattened' | 'stacked' | 'unknown';

/** Kernel layouts: LAST = PyTorch [out, in, kh, kw]; FIRST = Keras [kh, kw, in, out]. */
export type Channels = 'last' | 'first';

/** One enumerated framework layer: what the reference knows before loading any weight. */
export interface LayerSpec {
  /** Reference layer id (every enumerated item consumes one, analysed or not). */
  readonly id: number;
  readonly name: string;
  readonly longname: string;
  readonly type: LayerType;
  /** Tensor holding the weight in the store, when the layer has one. */
  readonly tensor: string | undefined;
  /** Row-major shape of that tensor ([] when missing). */
  readonly shape: readonly number[];
  /** The framework's expected kernel layout. */
  readonly channels: Channels;
  readonly bias: string | undefined;
  /**
   * Why the layer has no matrix to analyse, when enumeration already knows (a bias or norm scale, a
   * [1, N] row, a depthwise kernel, an integer tensor): the skip reason describe() and meta.skipped give.
   */
  readonly unanalysable?: { readonly kind: 'type' | 'shape' | 'dtype'; readonly reason: string };
}
