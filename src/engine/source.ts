/**
 * Where each analysed layer's matrices come from: the stored weights (plain), the difference to a
 * base model (fine-tune deltas, engine/delta.ts) or LoRA products (engine/peft.ts). The analyze and
 * describe loops, stacked and intra all take a LayerSource, so every option works on all three.
 */
import type { TensorStore } from '../formats/types.js';
import type { ResolvedOptions } from '../shared/options.js';
import { WeightWatcherError } from '../shared/errors.js';
import { readLayerForAnalysis, readLayerMatrices } from './layer.js';
import { planLayers, type LayerSource } from './plan.js';
import { deltaSource } from './delta.js';
import { peftSource, type AdapterConfig } from './peft.js';

export interface SourceInputs {
  /** A base model: analyse W − W_base per layer, or (peft: 'with_base') take W from it for W + BA. */
  readonly base?: TensorStore;
  /** The adapter's adapter_config.json settings, when the model is a PEFT adapter. */
  readonly adapterConfig?: AdapterConfig;
}

/** The stored weights of every planned layer. */
export function plainSource(store: TensorStore, o: ResolvedOptions): LayerSource {
  const { layers, skipped, explanation, note } = planLayers(store, o);
  return {
    layers: layers.map((l) => ({ ...l, read: () => readLayerMatrices(store, l), readForAnalysis: () => readLayerForAnalysis(store, l) })),
    skipped,
    ...(explanation !== undefined && { explanation }),
    ...(note !== undefined && { note }),
  };
}

export function layerSource(store: TensorStore, o: ResolvedOptions, inputs: SourceInputs = {}): LayerSource {
  if (o.peft) {
    if (inputs.base && o.peft !== 'with_base') {
      throw new WeightWatcherError(
        'E_USAGE',
        "a base model with peft: true has no use: lora_BA needs only the adapter; use peft: 'with_base' to analyse W + BA with W from the base model",
      );
    }
    return peftSource(store, o, inputs.base, inputs.adapterConfig);
  }
  return inputs.base ? deltaSource(store, inputs.base, o) : plainSource(store, o);
}
