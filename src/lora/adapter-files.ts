import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toFloat32, type Tensor } from '../graph/tensor.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { loadSafetensors, saveSafetensors } from '../weights/safetensors.js';
import type { LoraConfig } from './config.js';
import { HEAD_BIAS, HEAD_WEIGHT } from './head.js';
import { loadParams, type LoraModel } from './lora-model.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** PEFT saves every key under the wrapper's prefix, and the head as a module to save. */
const PREFIX = 'base_model.model.';

/** adapter_config.json in PEFT's vocabulary, plus what this project needs to rebuild the model. */
export interface AdapterConfig {
  peft_type: 'LORA';
  base_model_name_or_path: string;
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string | string[];
  modules_to_save: string[];
  bias: 'none';
  fan_in_fan_out: false;
  init_lora_weights: true;
  use_rslora: boolean;
  num_classes: number;
}

export function adapterConfig(model: LoraModel): AdapterConfig {
  return {
    peft_type: 'LORA',
    base_model_name_or_path: model.backbone.name,
    r: model.config.r,
    lora_alpha: model.config.alpha,
    lora_dropout: 0,
    target_modules: model.config.targets,
    modules_to_save: ['fc'],
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    use_rslora: Boolean(model.config.rslora),
    num_classes: model.numClasses,
  };
}

export function loraConfigOf(c: AdapterConfig): LoraConfig {
  return { r: c.r, alpha: c.lora_alpha, targets: c.target_modules, rslora: c.use_rslora === true };
}

/** Writes adapter_config.json and adapter_model.safetensors (adapters and head) into `dir`, atomically. */
export async function saveAdapter(dir: string, model: LoraModel): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of model.params) tensors.set(PREFIX + name, t);
  await saveSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  await writeFileAtomic(
    join(dir, ADAPTER_CONFIG),
    new TextEncoder().encode(JSON.stringify(adapterConfig(model), null, 2) + '\n'),
  );
}

/** Reads a saved adapter's config, to rebuild the model it belongs to. */
export async function readAdapterConfig(dir: string): Promise<AdapterConfig> {
  const path = join(dir, ADAPTER_CONFIG);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${path}: not found; pass a folder written by 'smoker-lora train' or saveAdapter()`);
  }
  let c: AdapterConfig;
  try {
    c = JSON.parse(text) as AdapterConfig;
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (
    c.peft_type !== 'LORA' ||
    !Number.isInteger(c.r) ||
    typeof c.lora_alpha !== 'number' ||
    !c.target_modules
  ) {
    throw new Error(
      `${path}: not a LoRA adapter config (needs peft_type LORA, r, lora_alpha, target_modules)`,
    );
  }
  return c;
}

/** Loads saved adapter and head weights into a model built with the same backbone and config. */
export async function loadAdapterWeights(dir: string, model: LoraModel): Promise<void> {
  const path = join(dir, ADAPTER_WEIGHTS);
  const { tensors } = await loadSafetensors(path);
  const values = new Map<string, Tensor>();
  for (const [key, t] of tensors) {
    const name = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    // Half-precision adapters (as PEFT may save them) widen losslessly.
    values.set(name, ['float16', 'bfloat16', 'float64'].includes(t.dtype) ? toFloat32(t) : t);
  }
  for (const head of [HEAD_WEIGHT, HEAD_BIAS])
    if (!values.has(head)) throw new Error(`${path}: has no head weights '${PREFIX}${head}'`);
  loadParams(model, values, path);
}
