import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toFloat32, type Tensor } from '../graph/tensor.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { loadSafetensors } from '../weights/safetensors-file.js';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  ADAPTER_PREFIX,
  adapterFiles,
  type AdapterConfig,
} from './adapter-format.js';
import { HEAD_BIAS, HEAD_WEIGHT } from './head.js';
import { loadParams, type LoraModel } from './lora-model.js';

/** Writes adapter_config.json and adapter_model.safetensors (adapters and head) into `dir`, atomically. */
export async function saveAdapter(dir: string, model: LoraModel): Promise<void> {
  const files = adapterFiles(model);
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS), files[ADAPTER_WEIGHTS]);
  await writeFileAtomic(join(dir, ADAPTER_CONFIG), files[ADAPTER_CONFIG]);
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
    const name = key.startsWith(ADAPTER_PREFIX) ? key.slice(ADAPTER_PREFIX.length) : key;
    // Half-precision adapters (as PEFT may save them) widen losslessly.
    values.set(name, ['float16', 'bfloat16', 'float64'].includes(t.dtype) ? toFloat32(t) : t);
  }
  for (const head of [HEAD_WEIGHT, HEAD_BIAS])
    if (!values.has(head)) throw new Error(`${path}: has no head weights '${ADAPTER_PREFIX}${head}'`);
  loadParams(model, values, path);
}
