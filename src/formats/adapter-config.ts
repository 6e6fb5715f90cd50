/**
 * PEFT's adapter_config.json, next to an adapter's weights: the settings that change how its LoRA
 * factors combine with the base weights. Missing or unreadable → undefined (shapes decide then).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface AdapterSettings {
  /** The adapted weights are stored [in, out] (GPT-2 Conv1D): W + B·Aᵀ. */
  readonly fanInFanOut?: boolean;
  readonly r?: number;
  readonly loraAlpha?: number;
}

/** adapter_config.json in the folder `modelPath` is (or is in). */
export async function readAdapterConfig(modelPath: string): Promise<AdapterSettings | undefined> {
  const st = await stat(modelPath).catch(() => undefined);
  if (!st) return undefined;
  const path = join(st.isDirectory() ? modelPath : dirname(modelPath), 'adapter_config.json');
  let json: unknown;
  try {
    if ((await stat(path)).size > 1 << 20) return undefined;
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const c = json as Record<string, unknown>;
  return {
    ...(typeof c.fan_in_fan_out === 'boolean' ? { fanInFanOut: c.fan_in_fan_out } : {}),
    ...(typeof c.r === 'number' ? { r: c.r } : {}),
    ...(typeof c.lora_alpha === 'number' ? { loraAlpha: c.lora_alpha } : {}),
  };
}
