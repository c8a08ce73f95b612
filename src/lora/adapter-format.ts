import type { Tensor } from '../graph/tensor.js';
import { writeSafetensors } from '../weights/safetensors.js';
import type { LoraConfig } from './config.js';
import type { LoraModel } from './lora-model.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** PEFT saves every key under the wrapper's prefix, and the head as a module to save. */
export const ADAPTER_PREFIX = 'base_model.model.';

/** adapter_config.json in PEFT's vocabulary, plus what this project needs to rebuild the model. */
export interface AdapterConfig {
  peft_type: 'LORA';
  base_model_name_or_path: string;
  r: number;
  /** Written only when given, as use_dora. */
  rank_pattern?: Record<string, number>;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string | string[];
  modules_to_save: string[];
  bias: 'none';
  fan_in_fan_out: false;
  init_lora_weights: true;
  use_rslora: boolean;
  /** Written only when true, so a LoRA adapter's config is as before DoRA existed. */
  use_dora?: true;
  num_classes: number;
}

export function adapterConfig(model: LoraModel): AdapterConfig {
  return {
    peft_type: 'LORA',
    base_model_name_or_path: model.backbone.name,
    r: model.config.r,
    ...(model.config.rankPattern && { rank_pattern: { ...model.config.rankPattern } }),
    lora_alpha: model.config.alpha,
    lora_dropout: 0,
    target_modules: model.config.targets,
    modules_to_save: ['fc'],
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    use_rslora: Boolean(model.config.rslora),
    ...(model.config.dora && { use_dora: true as const }),
    num_classes: model.numClasses,
  };
}

export function loraConfigOf(c: AdapterConfig): LoraConfig {
  return {
    r: c.r,
    ...(c.rank_pattern && Object.keys(c.rank_pattern).length > 0 && { rankPattern: c.rank_pattern }),
    alpha: c.lora_alpha,
    targets: c.target_modules,
    rslora: c.use_rslora === true,
    ...(c.use_dora === true && { dora: true }),
  };
}

/** The bytes of adapter_model.safetensors (adapters and head) and adapter_config.json, by file name. */
export function adapterFiles(
  model: LoraModel,
): Record<typeof ADAPTER_WEIGHTS | typeof ADAPTER_CONFIG, Uint8Array> {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of model.params) tensors.set(ADAPTER_PREFIX + name, t);
  return {
    [ADAPTER_WEIGHTS]: writeSafetensors(tensors, { format: 'pt' }),
    [ADAPTER_CONFIG]: new TextEncoder().encode(JSON.stringify(adapterConfig(model), null, 2) + '\n'),
  };
}
