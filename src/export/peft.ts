import { basename, join } from 'node:path';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../lora/adapter-format.js';
import { HEAD_BIAS, HEAD_WEIGHT } from '../lora/head.js';
import { writeSafetensors } from '../weights/safetensors.js';
import { loadSafetensors } from '../weights/safetensors-file.js';
import type { Exporter } from './options.js';
import type { ExportSource } from './source.js';
import { json, writeExportFile } from './write-file.js';

/** PEFT saves every key under its wrapper's prefix, without the adapter's name. */
const PREFIX = 'base_model.model.';
const LORA_KEY = /^base_model\.model\.(.+)\.lora_[AB]\.weight$/;

/**
 * adapter_config.json exactly in PEFT's LoraConfig vocabulary, so `PeftModel.from_pretrained` reads it
 * without unknown keys: no task type (a plain torchvision CNN), the adapted convs by module name, and
 * the new head as a module to save.
 */
export function peftAdapterConfig(src: ExportSource, modules: string[]) {
  const { info } = src;
  return {
    peft_type: 'LORA',
    task_type: null,
    base_model_name_or_path: info.weights ? basename(info.weights) : `torchvision/${info.backbone}`,
    revision: null,
    inference_mode: true,
    r: info.rank,
    lora_alpha: info.alpha,
    lora_dropout: 0,
    use_rslora: info.rslora,
    use_dora: info.dora === true,
    target_modules: modules,
    modules_to_save: [HEAD_WEIGHT.split('.')[0]],
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: info.rankPattern ?? {},
    alpha_pattern: {},
  };
}

/**
 * The adapter folder as PEFT writes it for a torchvision model: adapter_model.safetensors with
 * `base_model.model.<module>.lora_A.weight` / `lora_B.weight` (with DoRA also `lora_magnitude_vector`,
 * [1, out, 1, 1], the norm of the unfolded weight as PEFT's) and the head `base_model.model.fc.*`, and
 * adapter_config.json. Our adapters already follow PEFT's convention (A a kxk conv in→r with the base
 * conv's stride and padding, B a 1x1 conv r→out, before the BatchNorm), so the weights go as they are.
 */
export const exportPeft: Exporter = async (src, o) => {
  const backbone = src.info.backbone;
  if (!/^resnet(18|34|50)$/.test(backbone))
    throw new Error(
      `PEFT adapters apply to torchvision modules by name; the backbone '${basename(backbone)}' is an ONNX file, not a torchvision resnet18/34/50`,
    );
  if (src.info.soupOf)
    throw new Error(
      `${src.dir}: is a soup, whose merged update (the mean of ${src.info.soupOf.length} runs' B·A) is no one adapter of rank ${src.info.rank}; export one of its runs as a PEFT adapter, or the soup as ONNX`,
    );
  const path = join(src.dir, ADAPTER_WEIGHTS);
  let tensors;
  try {
    tensors = (await loadSafetensors(path)).tensors;
  } catch (e) {
    throw new Error(`${path}: cannot read the run's adapter (${(e as Error).message})`);
  }
  const modules = [...new Set([...tensors.keys()].flatMap((k) => LORA_KEY.exec(k)?.[1] ?? []))].sort();
  const expected = new Set([
    ...modules.flatMap((m) => [
      `${PREFIX}${m}.lora_A.weight`,
      `${PREFIX}${m}.lora_B.weight`,
      ...(src.info.dora ? [`${PREFIX}${m}.lora_magnitude_vector`] : []),
    ]),
    PREFIX + HEAD_WEIGHT,
    PREFIX + HEAD_BIAS,
  ]);
  const odd = [...tensors.keys()].filter((k) => !expected.has(k));
  const missing = [...expected].filter((k) => !tensors.has(k));
  if (modules.length === 0 || odd.length || missing.length)
    throw new Error(
      `${path}: not a PEFT-shaped LoRA adapter (${missing.length ? `missing ${missing[0]}` : odd.length ? `unexpected key ${odd[0]}` : 'no lora_A/lora_B keys'})`,
    );
  return [
    await writeExportFile(o.out, ADAPTER_WEIGHTS, writeSafetensors(tensors, { format: 'pt' })),
    await writeExportFile(o.out, ADAPTER_CONFIG, json(peftAdapterConfig(src, modules))),
  ];
};
